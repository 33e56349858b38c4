"""Automated messages: the planner Celery beat runs every minute, and the services the EHR calls.

Nobody clicks Send for these. Each minute (``run_planner``, beat task ``automation.plan``):

1. **Plan.** For every enrolled automated type, work out the send times ("offsets") of each
   appointment (or staff renewal) and insert one ``scheduled`` Delivery per
   (appointment or user, type, offset, channel) whose time falls within ``PLAN_AHEAD``.
   ``Delivery.dedupe_key`` is unique, so a planner run twice, two beat processes or a restarted
   beat never create a second row, and so never a second message.
2. **Release.** ``scheduled`` deliveries whose time has come are checked again, at that moment:
   still planned for this appointment time? consent, preferred contact method, address,
   Do-Not-Send list, 42 CFR Part 2 (setting 490)? They move to ``queued`` (or ``suppressed`` /
   ``cancelled`` with the reason) by compare-and-set. The dispatcher then sends queued rows and
   defers anything outside the recipient's messaging day (stop times 270 / 272 / 273).
3. **Appointment services** (``appointment_booked`` / ``_rescheduled`` / ``_cancelled`` /
   ``_completed``) re-plan one appointment at once; the planner also catches changes made
   without them at release time.

Send times are computed in the recipient's time zone: "2 days before" a 10:00 appointment is
10:00 two days earlier on the client's wall clock, across daylight-saving changes too. "0 days"
means the start of the messaging day (``DAY_START_TIME``) on the appointment's day.

Telehealth appointments get the two JaaS telehealth messages (with the meeting link) instead of
the standard reminder; both follow setting 773 like the standard reminder. A send time missed
because the appointment was booked (or moved) late is sent once, at once, if no later send time
of the same type is still ahead.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from clients.models import (
    Appointment,
    AppointmentStatus,
    AutomationRule,
    Client,
    OffsetUnit,
    StaffProfile,
)
from clients.selectors import PREFERENCE_CHANNELS, Reason, channel_label, contact_address_for
from core import clock
from messaging.models import Broadcast, Delivery, MessageType, RecipientType, Status
from messaging.system_settings import get_setting

logger = logging.getLogger(__name__)

PLAN_AHEAD = dt.timedelta(days=1)  # rows are written this long before their send time
BOOKED_LOOKBACK = dt.timedelta(days=2)  # initial confirmations for bookings at most this old
COMPLETED_LOOKBACK = dt.timedelta(days=3)  # post-appointment messages at most this late
RELEASE_BATCH = 500
ACTIVE_APPOINTMENT = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)
OPEN = (Status.SCHEDULED, Status.QUEUED)

UPCOMING = "client-upcoming-appointment"
INITIAL = "initial-appointment-confirmation"
POST = "post-appointment-message"
JAAS_1 = "jaas-telehealth-1"
JAAS_2 = "jaas-telehealth-2"
RENEWALS = "user-renewals"
BILLING = "billing-statement"
PORTAL_PASSWORD = "portal-password-change"

# What an appointment-based send time is measured from.
START, BOOKED, END, RENEWAL = "start", "booked", "end", "renewal"


class Why:
    """Reasons staff see in History for an automated message that was not sent."""

    CANCELLED = "Appointment cancelled"
    NO_SHOW = "Client did not attend (no-show)"
    RESCHEDULED = "Appointment rescheduled"
    DELETED = "Appointment deleted"
    STARTED = "Appointment already started"
    NOT_COMPLETED = "Appointment is not marked completed"
    NO_LINK = "Telehealth appointment has no meeting link"
    NO_CLINICIAN_COPY = "Telehealth messages to clinicians are off (setting 751)"
    TOO_LATE = "Appointment starts before the next sending window (stop time)"
    RENEWAL_PASSED = "Renewal date has passed"
    PART2 = "42 CFR Part 2 diagnosis: HIE messages are prohibited (setting 490)"
    CHANGED = "No longer planned (send times or contact methods changed)"
    INACTIVE_TYPE = "Message type is inactive"
    STAFF_NO_ADDRESS = "No {what} in the user profile"
    INACTIVE_USER = "User is inactive"

    @staticmethod
    def not_enrolled(number: int) -> str:
        return f"Automated messaging not enrolled (setting {number})"

    @staticmethod
    def preference(label: str) -> str:
        return f"Client now prefers {label}"

    @staticmethod
    def dns(reason_label: str, is_domain: bool) -> str:
        what = "domain is" if is_domain else "address is"
        return f"The {what} on the Do-Not-Send list ({reason_label})"


# Cancellation reasons undone when the appointment comes back (un-cancelled, moved back).
REVIVABLE = frozenset({Why.CANCELLED, Why.NO_SHOW, Why.RESCHEDULED})


# --- Send times --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offset:
    """One send time of a type: ``amount`` ``unit`` before/after its anchor, on some channels.

    ``by_preference``: the recipient's preferred contact method; ``channels``: these as well.
    """

    amount: int
    unit: str
    by_preference: bool = True
    channels: frozenset[str] = frozenset()

    @property
    def token(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def delta(self) -> dt.timedelta:
        unit = {OffsetUnit.MINUTES: "minutes", OffsetUnit.HOURS: "hours", OffsetUnit.DAYS: "days"}[self.unit]
        return dt.timedelta(**{unit: self.amount})

    def merged(self, other: Offset) -> Offset:
        return Offset(
            self.amount,
            self.unit,
            by_preference=self.by_preference or other.by_preference,
            channels=self.channels | other.channels,
        )


@dataclass(frozen=True)
class AutoType:
    """How one automated message type is planned."""

    code: str
    anchor: str
    enrol_setting: int | None
    default: Callable[[], Offset]
    default_with_rules: bool  # True: the default offset stays when rules exist; False: rules replace it
    telehealth: bool | None = None  # True: telehealth appointments only; False: in-person only
    clinician_copy: bool = False  # setting 751: the clinician receives it too

    @property
    def before(self) -> bool:
        return self.anchor in (START, RENEWAL)


def _days_759() -> Offset:
    return Offset(int(get_setting(759)), OffsetUnit.DAYS)


AUTO_TYPES: dict[str, AutoType] = {
    t.code: t
    for t in [
        AutoType(UPCOMING, START, 773, _days_759, True, telehealth=False),
        AutoType(JAAS_1, START, 773, _days_759, True, telehealth=True, clinician_copy=True),
        AutoType(
            JAAS_2,
            START,
            773,
            lambda: Offset(int(get_setting(760)), OffsetUnit.MINUTES),
            True,
            telehealth=True,
            clinician_copy=True,
        ),
        AutoType(INITIAL, BOOKED, 776, lambda: Offset(0, OffsetUnit.MINUTES), False),
        AutoType(POST, END, 780, lambda: Offset(0, OffsetUnit.MINUTES), False),
        AutoType(RENEWALS, RENEWAL, None, lambda: Offset(30, OffsetUnit.DAYS), False),
    ]
}


def day_start() -> dt.time:
    return dt.time.fromisoformat(settings.DAY_START_TIME)


clinic_zone = clock.clinic_zone


def send_time(anchor_kind: str, offset: Offset, *, anchor: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a message ``offset`` from ``anchor`` goes out, in UTC.

    Days count on the recipient's wall clock (same local time N days earlier or later); hours and
    minutes are exact. "0 days before" is the start of the messaging day on the anchor's day.
    """
    sign = -1 if anchor_kind in (START, RENEWAL) else 1
    if offset.unit == OffsetUnit.DAYS:
        local = anchor.astimezone(zone)
        if offset.amount == 0 and sign < 0:
            return dt.datetime.combine(local.date(), day_start(), tzinfo=zone).astimezone(dt.UTC)
        return (local + sign * offset.delta).astimezone(dt.UTC)
    return (anchor + sign * offset.delta).astimezone(dt.UTC)


def stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


# --- Planning context --------------------------------------------------------------------------


@dataclass
class Context:
    """Everything a planner run reads once: enrolled types, their offsets, settings."""

    now: dt.datetime
    types: dict[str, MessageType] = field(default_factory=dict)  # enrolled and active only
    all_types: dict[str, MessageType] = field(default_factory=dict)
    offsets: dict[str, list[Offset]] = field(default_factory=dict)
    clinician_copies: bool = False

    @classmethod
    def load(cls, now: dt.datetime | None = None) -> Context:
        ctx = cls(now=now or clock.now())
        ctx.all_types = {mt.code: mt for mt in MessageType.objects.filter(code__in=AUTO_TYPES)}
        rules: dict[int, list[AutomationRule]] = defaultdict(list)
        for rule in AutomationRule.objects.filter(active=True):
            rules[rule.message_type_id].append(rule)
        for code, spec in AUTO_TYPES.items():
            mt = ctx.all_types.get(code)
            if mt is None or not mt.active or not enrolled(spec):
                continue
            ctx.types[code] = mt
            ctx.offsets[code] = offsets_for(spec, rules.get(mt.pk, []))
        ctx.clinician_copies = bool(get_setting(751))
        return ctx

    def of_anchor(self, *anchors: str) -> list[tuple[AutoType, MessageType]]:
        return [(AUTO_TYPES[c], mt) for c, mt in self.types.items() if AUTO_TYPES[c].anchor in anchors]

    def longest(self, *anchors: str) -> dt.timedelta:
        deltas = [o.delta for c, _ in self.types.items() if AUTO_TYPES[c].anchor in anchors for o in self.offsets[c]]
        return max(deltas, default=dt.timedelta(0))


def enrolled(spec: AutoType) -> bool:
    return spec.enrol_setting is None or bool(get_setting(spec.enrol_setting))


def offsets_for(spec: AutoType, rules: Sequence[AutomationRule]) -> list[Offset]:
    """The type's send times: its standard one and the staff's extra ones, merged by offset."""
    merged: dict[str, Offset] = {}
    extra = [
        Offset(r.amount, r.unit, by_preference=not r.channels, channels=frozenset(r.channels or ())) for r in rules
    ]
    standard = [spec.default()] if spec.default_with_rules or not extra else []
    for offset in standard + extra:
        merged[offset.token] = merged[offset.token].merged(offset) if offset.token in merged else offset
    return sorted(merged.values(), key=lambda o: o.delta)


# --- Candidates: what should exist ---------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One message the plan wants: a Delivery row to be, identified by its dedupe key."""

    key: str
    code: str
    offset: Offset
    due: dt.datetime
    channel: str
    recipient_type: str
    client: Client | None = None
    user: Any = None
    appointment: Appointment | None = None
    group: str = ""  # candidates of one group (appointment/user + type) share the catch-up rule
    day: dt.date | None = None  # the broadcast's date when it is not the send date (renewals)


def _related(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return None


def client_channels(client: Client, offset: Offset) -> list[str]:
    """Channels an automated message to ``client`` uses at ``offset`` (none without consent)."""
    profile = _related(client, "messaging")
    if profile is None or not profile.consent_given or not client.is_active:
        return []
    channels = set(offset.channels)
    if offset.by_preference:
        channels |= PREFERENCE_CHANNELS.get(profile.preferred_contact_method, frozenset())
    return sorted(channels)


def staff_channels(user: Any, offset: Offset | None = None) -> list[str]:
    """A staff member's channels: the rule's, or e-mail (cell phone text when no e-mail)."""
    if offset is not None and offset.channels:
        return sorted(offset.channels)
    if user.email:
        return ["email"]
    profile = _related(user, "staff_profile")
    return ["sms"] if profile is not None and profile.cell_phone else []


def appointment_candidates(appointment: Appointment, ctx: Context) -> list[Candidate]:
    """Every message this appointment should have at any time (all offsets, all channels)."""
    result: list[Candidate] = []
    for spec, _mt in ctx.of_anchor(START, BOOKED, END):
        if not _appointment_fits(spec, appointment):
            continue
        for offset in ctx.offsets[spec.code]:
            result.extend(_appointment_offset(spec, offset, appointment, ctx))
    return result


def _appointment_fits(spec: AutoType, appointment: Appointment) -> bool:
    if spec.telehealth is not None and appointment.is_telehealth != spec.telehealth:
        return False
    if spec.anchor == END:
        return appointment.status == AppointmentStatus.COMPLETED
    if spec.anchor == BOOKED and not appointment.is_initial:
        return False
    return appointment.status in ACTIVE_APPOINTMENT


def _appointment_offset(spec: AutoType, offset: Offset, appointment: Appointment, ctx: Context) -> list[Candidate]:
    client = appointment.client
    anchor = {START: appointment.start, BOOKED: appointment.created_at, END: appointment.end}[spec.anchor]
    due = send_time(spec.anchor, offset, anchor=anchor, zone=client.zone)
    base = f"appt:{appointment.pk}:{stamp(appointment.start)}:{spec.code}:{offset.token}"
    group = f"appt:{appointment.pk}:{spec.code}"
    common = {"code": spec.code, "offset": offset, "appointment": appointment, "group": group}
    result = [
        Candidate(
            key=f"{base}:{channel}",
            due=due,
            channel=channel,
            recipient_type=RecipientType.CLIENT,
            client=client,
            **common,
        )
        for channel in client_channels(client, offset)
    ]
    if spec.clinician_copy and ctx.clinician_copies:
        clinician = appointment.clinician
        staff_zone = _staff_zone(clinician)
        staff_due = send_time(spec.anchor, offset, anchor=anchor, zone=staff_zone)
        result.extend(
            Candidate(
                key=f"{base}:{channel}:clinician",
                due=staff_due,
                channel=channel,
                recipient_type=RecipientType.STAFF,
                user=clinician,
                **common,
            )
            for channel in staff_channels(clinician)
        )
    return result


def _staff_zone(user: Any) -> zoneinfo.ZoneInfo:
    profile = _related(user, "staff_profile")
    return profile.zone if profile is not None else clinic_zone()


def renewal_candidates(profile: StaffProfile, ctx: Context) -> list[Candidate]:
    """Every User Renewals message a staff member should have (one per renewal date and offset)."""
    if RENEWALS not in ctx.types or not profile.user.is_active:
        return []
    dates = {d for d in (profile.licence_renewal_date, profile.credential_renewal_date) if d is not None}
    result: list[Candidate] = []
    for day in sorted(dates):
        anchor = dt.datetime.combine(day, day_start(), tzinfo=profile.zone)
        for offset in ctx.offsets[RENEWALS]:
            due = send_time(RENEWAL, offset, anchor=anchor, zone=profile.zone)
            base = f"user:{profile.user_id}:{RENEWALS}:{day:%Y%m%d}:{offset.token}"
            result.extend(
                Candidate(
                    key=f"{base}:{channel}",
                    code=RENEWALS,
                    offset=offset,
                    due=due,
                    channel=channel,
                    recipient_type=RecipientType.STAFF,
                    user=profile.user,
                    group=f"user:{profile.user_id}:{day}",
                    day=day,
                )
                for channel in staff_channels(profile.user, offset)
            )
    return result


def select_due(candidates: Iterable[Candidate], now: dt.datetime) -> list[tuple[Candidate, dt.datetime]]:
    """Candidates to write now, each with its send time.

    Within ``PLAN_AHEAD``: written ahead with their own time. Missed ones (time already past):
    "after" types within their look-back; "before" types only the latest missed offset, and only
    if no later offset of the same type is still ahead (so a late booking gets one reminder, not
    every one it missed).
    """
    by_group: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_group[c.group].append(c)
    chosen: list[tuple[Candidate, dt.datetime]] = []
    for group in by_group.values():
        spec = AUTO_TYPES[group[0].code]
        ahead = [c for c in group if c.due > now]
        chosen.extend((c, c.due) for c in ahead if c.due <= now + PLAN_AHEAD)
        missed = [c for c in group if c.due <= now]
        if not missed:
            continue
        if not spec.before:
            chosen.extend((c, now) for c in missed if c.due >= now - _lookback(spec))
        elif not ahead:
            latest = max(c.due for c in missed)
            chosen.extend((c, now) for c in missed if c.due == latest)
    return chosen


def _lookback(spec: AutoType) -> dt.timedelta:
    return BOOKED_LOOKBACK if spec.anchor == BOOKED else COMPLETED_LOOKBACK


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
    broadcasts = _Broadcasts(ctx)
    rows = [_new_row(c, due, broadcasts.for_candidate(c, due), ctx.now) for c, due in new]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    for c, due in revive:
        Delivery.objects.filter(dedupe_key=c.key, status=Status.CANCELLED, attempt_count=0).update(
            status=Status.SCHEDULED, status_reason="", next_attempt_at=due, finished_at=None, updated_at=ctx.now
        )
    return len(rows)


def _new_row(c: Candidate, due: dt.datetime, broadcast: Broadcast, now: dt.datetime) -> Delivery:
    address, source = recipient_address(c.channel, client=c.client, user=c.user)
    return Delivery(
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


def recipient_address(channel: str, *, client: Client | None, user: Any) -> tuple[str, str]:
    """(address, source) for a recipient on a channel; ("", source) when there is none."""
    if client is not None:
        choice = contact_address_for(client, channel)
        return choice.address, choice.source
    from messaging.recipients import staff_address

    return staff_address(user, _related(user, "staff_profile"), channel), "user"


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


# --- Release: the checks at send time -------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
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
    from messaging import dispatch

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


def verdict_for(delivery: Delivery, ctx: Context) -> Verdict:
    """Whether a due automated delivery may go out now, and if not why (checked at its send time)."""
    why = _state_reason(delivery, ctx)
    if why:
        return Verdict(Status.CANCELLED, why)
    if delivery.client_id is not None:
        gate = _client_gate(delivery)
        if gate is not None:
            return gate
    if delivery.message_type.code in (JAAS_1, JAAS_2) and not getattr(delivery.appointment, "meeting_link", ""):
        return Verdict(Status.SUPPRESSED, Why.NO_LINK)
    why = _membership_reason(delivery, ctx)
    if why:
        return Verdict(Status.CANCELLED, why)
    if _window_opens_too_late(delivery, ctx.now):
        return Verdict(Status.CANCELLED, Why.TOO_LATE)
    if delivery.client_id is not None:
        choice = contact_address_for(delivery.client, delivery.channel)
        if not choice.ok:
            return Verdict(Status.SUPPRESSED, choice.reason, source=choice.source)
        return _dns_verdict(delivery.channel, choice.address, choice.source)
    return _staff_address_verdict(delivery)


def _window_opens_too_late(delivery: Delivery, now: dt.datetime) -> bool:
    """A reminder due outside the recipient's messaging day whose next day starts after the visit.

    (The dispatcher would hold it until the window opens: by then it would be about the past.)
    """
    from messaging.dispatch import next_window_start, recipient_zone

    appointment = delivery.appointment
    spec = AUTO_TYPES.get(delivery.message_type.code)
    if appointment is None or spec is None or spec.anchor != START:
        return False
    opens = next_window_start(delivery.channel, recipient_zone(delivery), now)
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


def _client_gate(delivery: Delivery) -> Verdict | None:
    """Client-level checks: active, consent, Part 2 (setting 490)."""
    client = delivery.client
    assert client is not None
    if not client.is_active:
        return Verdict(Status.CANCELLED, Reason.INACTIVE)
    profile = _related(client, "messaging")
    if profile is None:
        return Verdict(Status.SUPPRESSED, Reason.NO_PROFILE)
    if not profile.consent_given:
        return Verdict(Status.SUPPRESSED, Reason.NO_CONSENT)
    part2 = hie_block_reason(client=client, message_type=delivery.message_type)
    return Verdict(Status.SUPPRESSED, part2) if part2 else None


def _membership_reason(delivery: Delivery, ctx: Context) -> str:
    """Is this row still one the plan wants (preferred method, send times, type of visit)?"""
    key = delivery.dedupe_key or ""
    if key.startswith("appt:"):
        appointment = delivery.appointment
        assert appointment is not None
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
        return Why.preference(profile.get_preferred_contact_method_display())
    return Why.CHANGED


def hie_block_reason(*, client: Client | None, message_type: MessageType) -> str:
    """Setting 490: an HIE message never goes to a client with a 42 CFR Part 2 diagnosis.

    Returns the reason to record, or '' when allowed. The dispatcher calls this at send time too.
    """
    if client is not None and message_type.is_hie and client.part2_diagnosis and bool(get_setting(490)):
        return Why.PART2
    return ""


def _staff_address_verdict(delivery: Delivery) -> Verdict:
    address, source = recipient_address(delivery.channel, client=None, user=delivery.user)
    if not address:
        what = {"sms": "cell phone number", "voice": "phone number", "email": "e-mail address"}
        return Verdict(Status.SUPPRESSED, Why.STAFF_NO_ADDRESS.format(what=what.get(delivery.channel, "address")))
    return _dns_verdict(delivery.channel, address, source)


def _dns_verdict(channel: str, address: str, source: str) -> Verdict:
    from bounces.services import address_suppression

    entry = address_suppression(channel, address)
    if entry is not None:
        category = "Domain DNS" if entry.is_domain else "DNS"
        return Verdict(
            Status.SUPPRESSED, Why.dns(entry.get_reason_display(), entry.is_domain), category, address, source
        )
    return Verdict(Status.QUEUED, address=address, source=source)


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
    from messaging.inbound import apply_gather_events

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


# --- Appointment services (call them from every place that books or changes appointments) ---------


def appointment_booked(appointment: Appointment) -> int:
    """A new appointment: plan its messages now (an initial appointment's confirmation goes at once)."""
    return _replan(appointment)


def appointment_rescheduled(appointment: Appointment) -> int:
    """The appointment moved (or changed): pending messages for the old time are cancelled and
    the new time planned. Messages already sent stay in History."""
    return _replan(appointment)


def appointment_cancelled(appointment: Appointment) -> int:
    """Cancel every automated message of the appointment that has not gone out; returns how many."""
    now = clock.now()
    reason = Why.NO_SHOW if appointment.status == AppointmentStatus.NO_SHOW else Why.CANCELLED
    rows = Delivery.objects.filter(appointment=appointment, broadcast__automated=True, dedupe_key__startswith="appt:")
    return _cancel(rows, reason, now)


def appointment_completed(appointment: Appointment) -> int:
    """The appointment took place: plan the post-appointment message (setting 780)."""
    return _replan(appointment)


def appointment_changed(*, appointment: Appointment, before: Appointment | None) -> int:
    """Route an appointment save to the right service (the admin and other editors call this)."""
    if before is None:
        return appointment_booked(appointment)
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        return appointment_cancelled(appointment)
    if appointment.status == AppointmentStatus.COMPLETED and before.status != AppointmentStatus.COMPLETED:
        return appointment_completed(appointment)
    watched = ("start", "end", "status", "is_telehealth", "meeting_link", "is_initial", "client_id", "clinician_id")
    if any(getattr(before, f) != getattr(appointment, f) for f in watched):
        return appointment_rescheduled(appointment)
    return 0


@transaction.atomic
def _replan(appointment: Appointment) -> int:
    ctx = Context.load()
    fresh = Appointment.objects.select_related(
        "client__messaging", "client__messaging_contact", "clinician__staff_profile"
    ).get(pk=appointment.pk)
    wanted = {c.key for c in appointment_candidates(fresh, ctx)}
    stale = Delivery.objects.filter(
        appointment=fresh, broadcast__automated=True, status__in=OPEN, dedupe_key__startswith="appt:"
    ).exclude(dedupe_key__in=wanted)
    cancelled = 0
    for delivery in stale.select_related("message_type"):
        key = delivery.dedupe_key or ""
        reason = _appointment_state_reason(delivery, key, ctx) or _membership_reason(delivery, ctx) or Why.CHANGED
        cancelled += _cancel(Delivery.objects.filter(pk=delivery.pk), reason, ctx.now)
    planned = plan(ctx, appointments=[fresh])
    due_ids = list(
        Delivery.objects.filter(
            appointment=fresh, status=Status.SCHEDULED, broadcast__automated=True, next_attempt_at__lte=ctx.now
        ).values_list("pk", flat=True)
    )
    if due_ids:
        release_due(ctx, ids=due_ids)
    return planned + cancelled


# --- Messages other parts of the EHR send by code --------------------------------------------------


def send_billing_statement(*, client: Client, idempotency_key: str = "") -> list[Delivery]:
    """Send the Billing Statement message (text of setting 182) by the client's preferred method.

    ``idempotency_key`` (e.g. the statement id) makes a repeated call send nothing new.
    """
    return send_client_message(code=BILLING, client=client, idempotency_key=idempotency_key)


def send_portal_password_change(*, client: Client, idempotency_key: str = "") -> list[Delivery]:
    """Send the Portal Password Change message (text of setting 371) by the preferred method."""
    return send_client_message(code=PORTAL_PASSWORD, client=client, idempotency_key=idempotency_key)


def send_client_message(*, code: str, client: Client, idempotency_key: str = "") -> list[Delivery]:
    """Write and release one automated message of type ``code`` to ``client`` now.

    Goes by the client's preferred contact method, with the same checks as the planner's
    (consent, address, Do-Not-Send, Part 2). Returns the deliveries written (none without consent
    or when the type is inactive).
    """
    mt = MessageType.objects.filter(code=code, active=True).first()
    if mt is None:
        return []
    ctx = Context.load()
    ctx.all_types[code] = mt
    now = ctx.now
    written: list[Delivery] = []
    with transaction.atomic():
        broadcasts = _Broadcasts(ctx)
        for channel in client_channels(client, Offset(0, OffsetUnit.MINUTES)):
            key = f"svc:{code}:{client.pk}:{idempotency_key}:{channel}"[:200] if idempotency_key else None
            candidate = Candidate(
                key=key or "",
                code=code,
                offset=Offset(0, OffsetUnit.MINUTES),
                due=now,
                channel=channel,
                recipient_type=RecipientType.CLIENT,
                client=client,
            )
            row = _new_row(candidate, now, broadcasts.get(mt, now.astimezone(clinic_zone()).date(), channel, now), now)
            row.dedupe_key = key
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                continue  # this statement was already sent on this channel
            written.append(row)
        if written:
            release_due(ctx, ids=[d.pk for d in written])
    for delivery in written:
        delivery.refresh_from_db()
    return written


# --- Beat schedule -------------------------------------------------------------------------------

PLANNER_TASK = "automation.plan"
PLANNER_SCHEDULE_NAME = "Automated messaging: plan and release due messages"


def ensure_automation_schedules(**kwargs: Any) -> None:
    """Create the planner's beat schedule (every minute) if missing; never overwrite admin edits.

    Rows live in django-celery-beat's tables, so they are visible and editable in the admin
    (Periodic tasks). Runs after ``migrate``.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=PLANNER_SCHEDULE_NAME).exists():
        return
    every_minute = IntervalSchedule.objects.filter(every=1, period=IntervalSchedule.MINUTES).first()
    if every_minute is None:
        every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    try:
        with transaction.atomic():
            PeriodicTask.objects.create(
                name=PLANNER_SCHEDULE_NAME,
                task=PLANNER_TASK,
                interval=every_minute,
                description=(
                    "Writes automated messages (reminders, telehealth, initial confirmation, post "
                    "appointment, user renewals) when due; each is sent once. Settings 773/776/780/759/760/751."
                ),
            )
    except IntegrityError:
        pass  # created concurrently


def channel_names(channels: Iterable[str]) -> str:
    return ", ".join(channel_label(c) for c in channels)
