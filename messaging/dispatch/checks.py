"""Checks at send time: a claimed delivery is checked again just before it goes out.

Consent, STOP, the 42 CFR Part 2 gate (setting 490), the address, the Do-Not-Send list and the
recipient's sending window (:mod:`messaging.dispatch.windows`) may all have changed since Refresh
queued the row. Each claimed delivery gets a :class:`Verdict`: send (to the address as it is now),
suppress, cancel, or defer to the next window's start; only "send" reaches the provider.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from bounces.selectors import blocked_addresses, normalise
from clients.models import AppointmentStatus, Client
from core import clock
from messaging.addresses import contact_address_for
from messaging.channels.registry import spec_for, switched_off
from messaging.dispatch.windows import next_window_start, recipient_zone, sending_window
from messaging.exclusions import Why
from messaging.models import Broadcast, Delivery, MessageType, Selection
from messaging.system_settings import get_setting

# A switched-off channel's due messages are looked at again this often (the switch is an environment
# variable: it changes with a restart).
SWITCHED_OFF_RECHECK = dt.timedelta(minutes=1)

# The reason History shows (the same text as the planner's ``Why.PART2``).
PART2_REASON = Why.PART2


@dataclass(frozen=True)
class Verdict:
    """What to do with a claimed delivery now: send (to ``address``), suppress, cancel or defer.

    The dispatcher's verdict on a row it has claimed; ``automation.release.ReleaseVerdict`` is the
    planner's on a due automated row still ``scheduled`` (the status it moves to: queued or not)."""

    action: str
    address: str = ""
    reason: str = ""
    category: str = ""
    at: dt.datetime | None = None


def hie_block_reason(*, client: Client | None, message_type: MessageType) -> str:
    """Setting 490: an HIE message never goes to a client with a 42 CFR Part 2 diagnosis.

    Returns the reason to record, or '' when allowed. The planner (``messaging.automation``) and
    the dispatcher at send time both ask this.
    """
    if client is not None and message_type.is_hie and client.part2_diagnosis and bool(get_setting(490)):
        return PART2_REASON
    return ""


def resolve_address(delivery: Delivery) -> Verdict:
    """Consent, STOP and the address as they are now (they may have changed since Refresh)."""
    if delivery.broadcast.state == Broadcast.State.CANCELLED:
        return Verdict("cancel", reason=Why.BROADCAST_CANCELLED)
    appointment = delivery.appointment
    if appointment is not None and appointment.status == AppointmentStatus.CANCELLED:
        return Verdict("cancel", reason=Why.CANCELLED)
    if appointment is not None and _before_the_appointment(delivery) and appointment.start <= clock.now():
        return Verdict("cancel", reason=Why.STARTED)  # a reminder that would arrive after the start
    address = delivery.address
    if delivery.client_id is not None:
        client = delivery.client
        if not client.is_active:
            return Verdict("suppress", reason=Why.INACTIVE)
        part2 = hie_block_reason(client=client, message_type=delivery.message_type)
        if part2:  # setting 490: never an HIE message to a 42 CFR Part 2 client
            return Verdict("suppress", reason=part2)
        choice = contact_address_for(client, delivery.channel)
        if not choice.ok:
            return Verdict("suppress", reason=choice.reason)
        address = choice.address
    if not address_is_valid(delivery.channel, address):
        return Verdict("suppress", reason=Why.no_address(delivery.channel))
    return Verdict("send", address=address)


def _before_the_appointment(delivery: Delivery) -> bool:
    """Whether the message is about an appointment still ahead (a reminder, a confirmation, a video
    link), not one that took place (Post Appointment Message)."""
    return (
        delivery.message_type.is_appointment_based
        and delivery.message_type.selection != Selection.COMPLETED_APPOINTMENTS
    )


def address_is_valid(channel: str, address: str) -> bool:
    if not address:
        return False
    spec = spec_for(channel)
    if spec.email_address:
        try:
            validate_email(address)
        except ValidationError:
            return False
        return True
    if not spec.phone_address:  # a portal login: whether it still works is the transport's question
        return True
    try:
        number = phonenumbers.parse(address, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def blocked_for(channel: str, verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """The Do-Not-Send entries blocking any of these addresses (one query)."""
    return blocked_addresses(channel, [v.address for v in verdicts if v.action == "send"])


def check_before_send(delivery: Delivery, verdict: Verdict, blocked: dict[str, Any], now: dt.datetime) -> Verdict:
    off = switched_off(spec_for(delivery.channel))
    if off:  # the channel's *_ENABLED switch: wait (never fail) and look again shortly
        reason = f"Waiting: {off}; it goes out when the channel is switched on again"
        return Verdict("defer", reason=reason, at=now + SWITCHED_OFF_RECHECK)
    if verdict.action != "send":
        return verdict
    entry = blocked.get(normalise(delivery.channel, verdict.address))
    if entry is not None:
        category = "Domain DNS" if entry.is_domain else "DNS"
        # The words Refresh showed for the same entry (messaging.recipients): one vocabulary.
        return Verdict("suppress", reason=Why.dns(entry.get_reason_display(), entry.is_domain), category=category)
    later = next_window_start(delivery.channel, recipient_zone(delivery), now)
    if later is not None:
        return Verdict("defer", reason=outside_reason(delivery), at=later)
    return verdict


def outside_reason(delivery: Delivery) -> str:
    """What History says of a message held for the sending window (setting 274 to the stop time)."""
    window = sending_window(delivery.channel)
    if window is None:
        return "Outside the sending window; waits for the next window"
    start, stop = window
    zone = recipient_zone(delivery).key
    if stop <= start:  # stored before the admin refused such values: nothing may go out
        return (
            f"Waiting: the sending window is empty (stop time {stop:%H:%M} is not after the start "
            f"of the messaging day {start:%H:%M}, {zone}); correct the settings in the admin"
        )
    return f"Outside the sending window ({start:%H:%M}–{stop:%H:%M} {zone}); waits for the next window"
