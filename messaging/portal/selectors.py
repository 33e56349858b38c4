"""Reads and writes of the client portal's message inbox (setting 620 exposes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from clients.models import PortalAccount, PortalMessageRead
from messaging.channels.registry import all_specs, spec_for

SHOWN_STATUSES = ("sent", "delivered")
CHANNEL_PREFERENCE = {spec.kind: spec.portal_rank for spec in all_specs()}
INBOX_LIMIT = 200


def portal_exposed() -> bool:
    from messaging.system_settings import get_setting

    return bool(get_setting(620))


def account_for(user: Any) -> PortalAccount | None:
    if not getattr(user, "is_authenticated", False):
        return None
    accounts = PortalAccount.objects.filter(user=user, is_active=True, client__is_active=True)
    return accounts.select_related("client").first()


@dataclass(frozen=True)
class InboxItem:
    delivery: Any
    title: str
    unread: bool


def _sent_to(account: PortalAccount) -> QuerySet[Any]:
    from messaging.models import Delivery

    return Delivery.objects.filter(client=account.client, status__in=SHOWN_STATUSES).select_related(
        "message_type", "broadcast"
    )


def inbox(account: PortalAccount) -> list[InboxItem]:
    """Messages sent to the client, newest first; one entry per message when it went on several channels."""
    best: dict[tuple[int, int | None], Any] = {}
    for delivery in _sent_to(account).order_by("-sent_at", "-id")[:INBOX_LIMIT]:
        group = (delivery.broadcast_id, delivery.appointment_id)
        current = best.get(group)
        if current is None or CHANNEL_PREFERENCE.get(delivery.channel, 9) < CHANNEL_PREFERENCE.get(current.channel, 9):
            best[group] = delivery
    read = set(PortalMessageRead.objects.filter(account=account).values_list("delivery_id", flat=True))
    items = [InboxItem(d, d.message_type.name, d.pk not in read) for d in best.values()]
    return sorted(items, key=lambda i: (i.delivery.sent_at or i.delivery.created_at, i.delivery.pk), reverse=True)


def message_for(account: PortalAccount, delivery_id: int) -> Any | None:
    """One of the client's messages (None if it is not theirs or was not sent)."""
    return _sent_to(account).filter(pk=delivery_id).first()


@dataclass(frozen=True)
class MessageText:
    subject: str
    body: str


def message_text(delivery: Any) -> MessageText:
    """What the message said, as the client received it on its channel."""
    from messaging.rendering import render_delivery

    rendered = render_delivery(delivery)
    spec = spec_for(delivery.channel)
    subject = getattr(rendered, spec.subject_field, "") if spec.subject_field else ""
    return MessageText(subject or delivery.message_type.name, getattr(rendered, spec.body_field, ""))


def mark_read(*, account: PortalAccount, delivery: Any) -> None:
    PortalMessageRead.objects.get_or_create(account=account, delivery=delivery)
