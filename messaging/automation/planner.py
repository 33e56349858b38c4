"""The planner: write the ``scheduled`` rows now due for planning, and the beat run around it.

``plan`` turns candidates into Delivery rows (``write_rows``; ``Delivery.dedupe_key`` is unique,
so running twice never writes a second row), grouped under one automated Broadcast per type and
day (``automated_broadcast``). ``run_planner`` is one beat run: cancel rows of cancelled
appointments, plan, then release what is due (``messaging.automation.release``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from clients.models import Appointment, AppointmentStatus, Client, StaffProfile
from messaging.automation.candidates import (
    Candidate,
    Context,
    appointment_candidates,
    recipient_address,
    renewal_candidates,
    select_due,
)
from messaging.automation.release import release_due
from messaging.automation.specs import (
    ACTIVE_APPOINTMENT,
    BOOKED,
    BOOKED_LOOKBACK,
    COMPLETED_LOOKBACK,
    END,
    OPEN,
    PLAN_AHEAD,
    RENEWAL,
    RENEWALS,
    START,
    _related,
    clinic_zone,
)
from messaging.content import Versions
from messaging.exclusions import REVIVABLE, Why
from messaging.inbound import apply_gather_events
from messaging.models import Broadcast, Delivery, MessageType, Status

logger = logging.getLogger("messaging.automation")

# --- Planning: writing the rows ------------------------------------------------------------------


def _appointments_to_plan(ctx: Context) -> Iterable[Appointment]:
    now = ctx.now
    related = ("client__messaging", "client__messaging_contact", "clinician__staff_profile")
    base = Appointment.objects.select_related(*related)
    filters = Q(pk__in=[])
    if ctx.of_anchor(START):
        reach = ctx.longest(START) + PLAN_AHEAD + dt.timedelta(days=1)
        filters |= Q(status__in=ACTIVE_APPOINTMENT, start__gt=now, start__lte=now + reach)
    if ctx.of_anchor(BOOKED):
        booked = Q(created_at__gte=now - BOOKED_LOOKBACK)
        filters |= Q(is_initial=True, status__in=ACTIVE_APPOINTMENT, start__gt=now) & booked
    if ctx.of_anchor(END):
        reach = ctx.longest(END) + COMPLETED_LOOKBACK
        filters |= Q(status=AppointmentStatus.COMPLETED, end__gte=now - reach, end__lte=now + PLAN_AHEAD)
    return base.filter(filters).order_by("start", "id").iterator(chunk_size=500)


def _staff_to_plan(ctx: Context) -> Iterable[StaffProfile]:
    if RENEWALS not in ctx.types:
        return []
    today = ctx.now.astimezone(clinic_zone()).date()
    window = (today, today + ctx.longest(RENEWAL) + PLAN_AHEAD + dt.timedelta(days=2))
    due = Q(licence_renewal_date__range=window) | Q(credential_renewal_date__range=window)
    return StaffProfile.objects.filter(due, user__is_active=True).select_related("user")


def plan(ctx: Context, *, appointments: Iterable[Appointment] | None = None) -> int:
    """Write the scheduled rows now due for planning; returns how many were new."""
    candidates: list[Candidate] = []
    for appointment in _appointments_to_plan(ctx) if appointments is None else appointments:
        candidates.extend(appointment_candidates(appointment, ctx))
    if appointments is None:
        for profile in _staff_to_plan(ctx):
            candidates.extend(renewal_candidates(profile, ctx))
    return write_rows(ctx, select_due(candidates, ctx.now))


def write_rows(ctx: Context, chosen: Sequence[tuple[Candidate, dt.datetime]]) -> int:
    """Insert missing rows (``ignore_conflicts`` on the unique dedupe key) and revive cancelled ones."""
    if not chosen:
        return 0
    keys = [c.key for c, _ in chosen]
    existing: dict[str, tuple[str, str]] = {}
    for start in range(0, len(keys), 500):
        rows = Delivery.objects.filter(dedupe_key__in=keys[start : start + 500])
        existing.update({k: (s, r) for k, s, r in rows.values_list("dedupe_key", "status", "status_reason")})
    new = [(c, due) for c, due in chosen if c.key not in existing]
    revive = [
        (c, due)
        for c, due in chosen
        if existing.get(c.key, ("", ""))[0] == Status.CANCELLED and existing[c.key][1] in REVIVABLE
    ]
    broadcasts, versions = _Broadcasts(ctx), Versions()
    rows = [_new_row(c, due, broadcasts.for_candidate(c, due), ctx.now, versions) for c, due in new]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    for c, due in revive:
        Delivery.objects.filter(dedupe_key=c.key, status=Status.CANCELLED, attempt_count=0).update(
            status=Status.SCHEDULED, status_reason="", next_attempt_at=due, finished_at=None, updated_at=ctx.now
        )
    return len(rows)


def _new_row(c: Candidate, due: dt.datetime, broadcast: Broadcast, now: dt.datetime, versions: Versions) -> Delivery:
    """The row of a planned message; its template version is fixed now (messaging.content)."""
    address, source = recipient_address(c.channel, client=c.client, user=c.user)
    return Delivery(
        template_version_id=versions.id_for(
            broadcast.message_type_id, c.channel, c.client.preferred_language if c.client is not None else None
        ),
        broadcast=broadcast,
        message_type_id=broadcast.message_type_id,
        channel=c.channel,
        recipient_type=c.recipient_type,
        client=c.client,
        user=c.user,
        appointment=c.appointment,
        recipient_name=_name(client=c.client, user=c.user),
        address=address,
        address_source=source,
        status=Status.SCHEDULED,
        next_attempt_at=due,
        dedupe_key=c.key,
        created_at=now,
    )


def _name(*, client: Client | None, user: Any) -> str:
    if client is not None:
        return f"{client.last_name}, {client.first_name}"
    if user is None:
        return ""
    if user.last_name and user.first_name:
        return f"{user.last_name}, {user.first_name}"
    profile = _related(user, "staff_profile")
    return profile.name if profile is not None else user.get_username()


class _Broadcasts:
    """One automated Broadcast per message type and day (History groups automated messages by it)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cache: dict[str, Broadcast] = {}

    def for_candidate(self, c: Candidate, due: dt.datetime) -> Broadcast:
        mt = self.ctx.types.get(c.code) or self.ctx.all_types[c.code]
        # Renewals: the renewal date is the broadcast's date range (rendering reads the item due in it).
        day = c.day or due.astimezone(clinic_zone()).date()
        return self.get(mt, day, c.channel, due)

    def get(self, mt: MessageType, day: dt.date, channel: str, at: dt.datetime) -> Broadcast:
        key = f"auto:{mt.code}:{day.isoformat()}"[:64]
        broadcast = self.cache.get(key) or automated_broadcast(message_type=mt, day=day, at=at, key=key)
        if channel not in broadcast.channels:
            broadcast.channels = sorted({*broadcast.channels, channel})
            Broadcast.objects.filter(pk=broadcast.pk).update(channels=broadcast.channels)
        self.cache[key] = broadcast
        return broadcast


def automated_broadcast(*, message_type: MessageType, day: dt.date, at: dt.datetime, key: str) -> Broadcast:
    """The automated Broadcast of ``key``; created once even by concurrent planners."""
    defaults = {
        "message_type": message_type,
        "description": f"Automated: {message_type.name}",
        "start_date": day,
        "end_date": day,
        "broadcast_at": at,
        "only_preferences": True,
        "channels": [],
        "automated": True,
        "created_by": None,
    }
    for _ in range(2):
        found = Broadcast.objects.filter(idempotency_key=key).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return Broadcast.objects.create(idempotency_key=key, **defaults)
        except IntegrityError:
            continue
    return Broadcast.objects.get(idempotency_key=key)


# --- The planner run (beat) ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannerResult:
    planned: int
    released: dict[str, int]
    cancelled: int


def run_planner(*, now: dt.datetime | None = None) -> PlannerResult:
    """One planner run: cancel rows of cancelled appointments, plan, release. Safe to run twice."""
    ctx = Context.load(now)
    with transaction.atomic():
        cancelled = _cancel_for_inactive_appointments(ctx.now)
        planned = plan(ctx)
    with transaction.atomic():
        released = release_due(ctx)
    apply_gather_events()  # voice "press 1" answers the webhook did not apply itself
    if planned or released or cancelled:
        logger.info("automation: planned %s, released %s, cancelled %s", planned, released, cancelled)
    return PlannerResult(planned=planned, released=released, cancelled=cancelled)


def _cancel_for_inactive_appointments(now: dt.datetime) -> int:
    """Open automated rows of appointments cancelled or no-show without the services being called."""
    total = 0
    for status, reason in ((AppointmentStatus.CANCELLED, Why.CANCELLED), (AppointmentStatus.NO_SHOW, Why.NO_SHOW)):
        rows = Delivery.objects.filter(
            status__in=OPEN, broadcast__automated=True, appointment__status=status, dedupe_key__startswith="appt:"
        )
        total += _cancel(rows, reason, now)
    return total


def _cancel(rows: Any, reason: str, now: dt.datetime) -> int:
    """Cancel rows that have not gone out (conditional UPDATE: a claimed row is left alone)."""
    return rows.filter(status__in=OPEN).update(
        status=Status.CANCELLED, status_reason=reason, next_attempt_at=None, finished_at=now, updated_at=now
    )
