"""Release: the checks an automated message passes at its send time.

``release_due`` moves due ``scheduled`` automated deliveries to ``queued`` (or ``suppressed`` /
``cancelled`` with the reason) by compare-and-set, so two planners never both move a row.
``verdict_for`` decides: still planned for this appointment time and type? consent, preferred
contact method, address, Do-Not-Send list, 42 CFR Part 2 (setting 490), stop times.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from bounces.services import address_suppression
from clients.models import AppointmentStatus
from messaging import dispatch
from messaging.addresses import contact_address_for
from messaging.automation.candidates import (
    Context,
    appointment_candidates,
    client_channels,
    recipient_address,
    renewal_candidates,
)
from messaging.automation.specs import (
    AUTO_TYPES,
    END,
    JAAS_1,
    JAAS_2,
    RELEASE_BATCH,
    START,
    Offset,
    _related,
    enrolled,
    stamp,
)
from messaging.dispatch.checks import hie_block_reason
from messaging.exclusions import Why
from messaging.models import Delivery, OffsetUnit, RecipientType, Status

# --- Release: the checks at send time -------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseVerdict:
    """The status a due automated delivery moves to from ``scheduled`` (queued, suppressed or cancelled),
    unlike ``dispatch.checks.Verdict``, the action on a claimed delivery about to go out (send, defer...)."""

    status: str
    reason: str = ""
    category: str = ""
    address: str = ""
    source: str = ""


def release_due(ctx: Context | None = None, *, ids: Sequence[int] | None = None) -> dict[str, int]:
    """Move due ``scheduled`` automated deliveries on (queued, suppressed or cancelled).

    Compare-and-set per row: a row two planners look at is moved by exactly one of them.
    """
    ctx = ctx or Context.load()
    counts: dict[str, int] = defaultdict(int)
    due = Delivery.objects.filter(status=Status.SCHEDULED, broadcast__automated=True, next_attempt_at__lte=ctx.now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    related = (
        "message_type",
        "client__messaging",
        "client__messaging_contact",
        "user__staff_profile",
        "appointment__client",
        "appointment__clinician",
    )
    for _ in range(20):
        batch = list(due.select_related(*related).order_by("next_attempt_at", "id")[:RELEASE_BATCH])
        for delivery in batch:
            status = _release_one(delivery, ctx)
            if status:
                counts[str(status)] += 1
        if len(batch) < RELEASE_BATCH:
            break
    if counts.get(Status.QUEUED):
        transaction.on_commit(_kick_sweeper)
    return dict(counts)


def _kick_sweeper() -> None:
    # Looked up at call time: tests patch ``messaging.dispatch.kick_sweeper``.
    dispatch.kick_sweeper()


def _release_one(delivery: Delivery, ctx: Context) -> str:
    verdict = verdict_for(delivery, ctx)
    fields: dict[str, Any] = {"status": verdict.status, "status_reason": verdict.reason[:255], "updated_at": ctx.now}
    if verdict.status == Status.QUEUED:
        fields.update(address=verdict.address, address_source=verdict.source)
    else:
        fields.update(next_attempt_at=None, finished_at=ctx.now)
        if verdict.category:
            fields.update(bounce_category=verdict.category, hard_bounce=True)
        if verdict.address:
            fields.update(address=verdict.address)
    moved = Delivery.objects.filter(pk=delivery.pk, status=Status.SCHEDULED).update(**fields)
    return verdict.status if moved else ""


def verdict_for(delivery: Delivery, ctx: Context) -> ReleaseVerdict:
    """Whether a due automated delivery may go out now, and if not why (checked at its send time)."""
    why = _state_reason(delivery, ctx)
    if why:
        return ReleaseVerdict(Status.CANCELLED, why)
    if delivery.client_id is not None:
        gate = _client_gate(delivery)
        if gate is not None:
            return gate
    if delivery.message_type.code in (JAAS_1, JAAS_2) and not getattr(delivery.appointment, "meeting_link", ""):
        return ReleaseVerdict(Status.SUPPRESSED, Why.NO_LINK)
    why = _membership_reason(delivery, ctx)
    if why:
        return ReleaseVerdict(Status.CANCELLED, why)
    if _window_opens_too_late(delivery, ctx.now):
        return ReleaseVerdict(Status.CANCELLED, Why.TOO_LATE)
    if delivery.client_id is not None:
        choice = contact_address_for(delivery.client, delivery.channel)
        if not choice.ok:
            return ReleaseVerdict(Status.SUPPRESSED, choice.reason, source=choice.source)
        return _dns_verdict(delivery.channel, choice.address, choice.source)
    return _staff_address_verdict(delivery)


def _window_opens_too_late(delivery: Delivery, now: dt.datetime) -> bool:
    """A reminder due outside the recipient's messaging day whose next day starts after the visit.

    (The dispatcher would hold it until the window opens: by then it would be about the past.)
    """
    appointment = delivery.appointment
    spec = AUTO_TYPES.get(delivery.message_type.code)
    if appointment is None or spec is None or spec.anchor != START:
        return False
    opens = dispatch.next_window_start(delivery.channel, dispatch.recipient_zone(delivery), now)
    return opens is not None and opens >= appointment.start


def _state_reason(delivery: Delivery, ctx: Context) -> str:
    """Why the message is moot: type off, appointment cancelled / moved / started, user gone."""
    key = delivery.dedupe_key or ""
    if not delivery.message_type.active:
        return Why.INACTIVE_TYPE
    spec = AUTO_TYPES.get(delivery.message_type.code)
    if spec is not None and not enrolled(spec):
        return Why.not_enrolled(spec.enrol_setting or 0)
    if key.startswith("appt:"):
        return _appointment_state_reason(delivery, key, ctx)
    if delivery.recipient_type == RecipientType.STAFF and (delivery.user is None or not delivery.user.is_active):
        return Why.INACTIVE_USER
    if key.startswith("user:"):
        profile = _related(delivery.user, "staff_profile")
        if profile is not None and key.split(":")[3] < ctx.now.astimezone(profile.zone).strftime("%Y%m%d"):
            return Why.RENEWAL_PASSED
    return ""  # a service message (billing statement, portal password) has no plan to follow


def _appointment_state_reason(delivery: Delivery, key: str, ctx: Context) -> str:
    appointment = delivery.appointment
    if appointment is None:
        return Why.DELETED
    if appointment.status == AppointmentStatus.CANCELLED:
        return Why.CANCELLED
    if appointment.status == AppointmentStatus.NO_SHOW:
        return Why.NO_SHOW
    if key.split(":")[2] != stamp(appointment.start):
        return Why.RESCHEDULED
    spec = AUTO_TYPES[delivery.message_type.code]
    if spec.anchor == START and ctx.now >= appointment.start:
        return Why.STARTED
    if spec.anchor == END and appointment.status != AppointmentStatus.COMPLETED:
        return Why.NOT_COMPLETED
    if delivery.recipient_type == RecipientType.STAFF and not ctx.clinician_copies:
        return Why.NO_CLINICIAN_COPY
    return ""


def _client_gate(delivery: Delivery) -> ReleaseVerdict | None:
    """Client-level checks: active, consent, Part 2 (setting 490)."""
    client = delivery.client
    if client is None:  # a staff message: no client checks
        return None
    if not client.is_active:
        return ReleaseVerdict(Status.CANCELLED, Why.INACTIVE)
    profile = _related(client, "messaging")
    if profile is None:
        return ReleaseVerdict(Status.SUPPRESSED, Why.NO_PROFILE)
    if not profile.consent_given:
        return ReleaseVerdict(Status.SUPPRESSED, Why.NO_CONSENT)
    part2 = hie_block_reason(client=client, message_type=delivery.message_type)
    return ReleaseVerdict(Status.SUPPRESSED, part2) if part2 else None


def _membership_reason(delivery: Delivery, ctx: Context) -> str:
    """Is this row still one the plan wants (preferred method, send times, type of visit)?"""
    key = delivery.dedupe_key or ""
    if key.startswith("appt:"):
        appointment = delivery.appointment
        if appointment is None:  # the appointment was deleted (SET_NULL): nothing to plan for
            return Why.DELETED
        wanted = {c.key for c in appointment_candidates(appointment, ctx)}
    elif key.startswith("user:"):
        profile = _related(delivery.user, "staff_profile")
        wanted = {c.key for c in renewal_candidates(profile, ctx)} if profile is not None else set()
    else:
        return ""
    if key in wanted:
        return ""
    client = delivery.client
    profile = _related(client, "messaging") if client is not None else None
    if profile is not None and delivery.channel not in client_channels(client, Offset(0, OffsetUnit.DAYS)):
        return Why.now_prefers(profile.get_preferred_contact_method_display())
    return Why.CHANGED


def _staff_address_verdict(delivery: Delivery) -> ReleaseVerdict:
    address, source = recipient_address(delivery.channel, client=None, user=delivery.user)
    if not address:
        return ReleaseVerdict(Status.SUPPRESSED, Why.staff_no_address(delivery.channel))
    return _dns_verdict(delivery.channel, address, source)


def _dns_verdict(channel: str, address: str, source: str) -> ReleaseVerdict:
    entry = address_suppression(channel, address)
    if entry is not None:
        category = "Domain DNS" if entry.is_domain else "DNS"
        return ReleaseVerdict(
            Status.SUPPRESSED, Why.dns(entry.get_reason_display(), entry.is_domain), category, address, source
        )
    return ReleaseVerdict(Status.QUEUED, address=address, source=source)
