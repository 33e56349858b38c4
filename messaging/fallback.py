"""Fallback when a channel fails (issue 14 §5): the next channel of the message type's order is tried.

A message type may name a fallback order (``MessageType.fallback_channels``, e.g. Text (SMS) → Voice →
Email). When a client's delivery ends failed — a hard failure, or a soft one after all its redials
and resends — the dispatcher calls :func:`fallback_after`: the channels after the failed one in the
order are tried in turn, and the first the client can receive on (consent, an address, not on the
Do-Not-Send list, the channel switched on, no message of this broadcast on it yet) gets a new queued
delivery of the same broadcast, linked by ``fallback_of``. It is due at once; the dispatcher's own
checks keep it within the messaging hours (quiet hours) as for any message. What it says is fixed
now, from that channel's template (its version recorded), as at Send.

Off unless the type names an order; staff messages and channels outside the order never fall back.
"""

from __future__ import annotations

import logging

from bounces.selectors import normalise
from bounces.services import address_suppression
from clients.models import Client
from core import clock
from messaging.addresses import contact_address_for
from messaging.channels.registry import spec_for, switched_off
from messaging.content import Versions
from messaging.models import Delivery, MessageType, RecipientType, Status

log = logging.getLogger(__name__)


def fallback_order(message_type: MessageType) -> list[str]:
    """The type's fallback order, channels that exist only, each once."""
    order: list[str] = []
    for kind in message_type.fallback_channels or []:
        try:
            spec_for(str(kind))
        except LookupError:
            continue
        if kind not in order:
            order.append(str(kind))
    return order


def _why_not(client: Client, channel: str, broadcast_id: int) -> tuple[str, str]:
    """(address, "") when ``client`` can receive this broadcast on ``channel`` now; else ("", why)."""
    if reason := switched_off(spec_for(channel)):
        return "", reason
    choice = contact_address_for(client, channel)
    if not choice.ok:
        return "", str(choice.reason)
    if Delivery.objects.filter(broadcast_id=broadcast_id, client=client, channel=channel).exists():
        return "", "this broadcast already has a message on that channel"
    if address_suppression(channel, normalise(channel, choice.address)) is not None:
        return "", "the address is on the Do-Not-Send list"
    return choice.address, ""


def fallback_after(delivery: Delivery) -> Delivery | None:
    """Queue the message on the next channel of the order after ``delivery`` ended failed, or None."""
    if delivery.status != Status.FAILED or delivery.recipient_type != RecipientType.CLIENT or not delivery.client_id:
        return None
    order = fallback_order(delivery.message_type)
    if delivery.channel not in order:
        return None
    client = Client.objects.select_related("messaging", "messaging_contact").filter(pk=delivery.client_id).first()
    if client is None:
        return None
    failed_label = spec_for(delivery.channel).label
    for channel in order[order.index(delivery.channel) + 1 :]:
        address, why = _why_not(client, channel, delivery.broadcast_id)
        if not address:
            log.info("delivery %s: no fallback on %s (%s)", delivery.pk, channel, why)
            continue
        now = clock.now()
        fallback = Delivery.objects.create(
            broadcast_id=delivery.broadcast_id,
            message_type_id=delivery.message_type_id,
            channel=channel,
            recipient_type=delivery.recipient_type,
            client_id=delivery.client_id,
            appointment_id=delivery.appointment_id,
            recipient_name=delivery.recipient_name,
            address=address,
            address_source="fallback",
            status=Status.QUEUED,
            status_reason=f"Fallback: the {failed_label} message failed ({delivery.bounce_category or 'failed'})",
            next_attempt_at=now,
            created_at=now,
            template_version_id=Versions().id_for(delivery.message_type_id, channel, client.preferred_language),
            fallback_of=delivery,
        )
        return fallback  # due now: the next sweep sends it
    return None


def fallback_chain(delivery: Delivery) -> list[Delivery]:
    """Every delivery of the chain ``delivery`` belongs to, first to last (the detail page's links)."""
    first = delivery
    seen = {first.pk}
    while first.fallback_of_id is not None and first.fallback_of_id not in seen:
        first = Delivery.objects.get(pk=first.fallback_of_id)
        seen.add(first.pk)
    chain = [first]
    while (following := Delivery.objects.filter(fallback_of=chain[-1]).order_by("id").first()) is not None:
        if following.pk in {d.pk for d in chain}:
            break
        chain.append(following)
    return chain if len(chain) > 1 else []
