"""What should exist: the planning context and the messages ("candidates") the plan wants.

``Context`` reads the enrolled types, their send times and settings once per run;
``appointment_candidates`` / ``renewal_candidates`` list every message an appointment or a staff
renewal should have; ``select_due`` picks the ones to write now (including the catch-up rule for
missed send times). ``recipient_address`` resolves a recipient's address on a channel.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clients.models import Appointment, AppointmentStatus, Client, StaffProfile
from core import clock
from messaging.addresses import contact_address_for
from messaging.automation.specs import (
    ACTIVE_APPOINTMENT,
    AUTO_TYPES,
    BOOKED,
    BOOKED_LOOKBACK,
    COMPLETED_LOOKBACK,
    END,
    PLAN_AHEAD,
    RENEWAL,
    RENEWALS,
    START,
    AutoType,
    Offset,
    _related,
    clinic_zone,
    day_start,
    enrolled,
    send_time,
    stamp,
)
from messaging.channels.registry import channels_preferred_by, staff_defaults
from messaging.models import AutomationRule, MessageType, RecipientType
from messaging.quiet_hours import day_opening
from messaging.recipients import staff_address
from messaging.system_settings import get_setting

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


def client_channels(client: Client, offset: Offset) -> list[str]:
    """Channels an automated message to ``client`` uses at ``offset`` (none without consent)."""
    profile = _related(client, "messaging")
    if profile is None or not profile.consent_given or not client.is_active:
        return []
    channels = set(offset.channels)
    if offset.by_preference:
        channels |= channels_preferred_by(profile.preferred_contact_method)
    return sorted(channels)


def staff_channels(user: Any, offset: Offset | None = None) -> list[str]:
    """A staff member's channels: the rule's, or the first staff default they have an address for
    (e-mail, else a text to their cell phone: the specs' ``staff_default_rank``)."""
    if offset is not None and offset.channels:
        return sorted(offset.channels)
    profile = _related(user, "staff_profile")
    for spec in staff_defaults():
        if staff_address(user, profile, spec.kind):
            return [spec.kind]
    return []


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
        anchor = day_opening(day, day_start(), profile.zone)
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


def recipient_address(channel: str, *, client: Client | None, user: Any) -> tuple[str, str]:
    """(address, source) for a recipient on a channel; ("", source) when there is none."""
    if client is not None:
        choice = contact_address_for(client, channel)
        return choice.address, choice.source
    return staff_address(user, _related(user, "staff_profile"), channel), "user"
