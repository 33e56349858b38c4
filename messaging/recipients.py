"""Who a message goes to (Refresh on the New tab, and again at Send): recipients and excluded people.

``recipients_for`` reads everything it needs in a fixed number of queries, whatever the number of
rows: one for the candidates (appointment, client, messaging profile and alternate contact joined,
read as plain rows), one Do-Not-Send lookup per chosen channel, and the settings cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import CharField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from bounces.selectors import blocked_addresses, normalise
from clients.models import Appointment, AppointmentStatus, Client, ContactMethod, StaffProfile
from core import clock
from messaging.addresses import contact_address_for, preference_allows
from messaging.channels.registry import all_specs, contact_field_names, spec_for
from messaging.channels.registry import label as channel_label
from messaging.exclusions import Why
from messaging.models import Audience, MessageType, RecipientType, Selection

CHART, ALTERNATE, USER = "chart", "alternate", "user"
SOURCE_LABELS = {CHART: "Chart", ALTERNATE: "Messaging Contact", USER: "User profile"}


@dataclass(frozen=True)
class Target:
    """One message of a recipient: the channel, the address used and where it comes from."""

    channel: str
    address: str
    source: str

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)


@dataclass
class Recipient:
    """One row of the list: a person (and, for appointment types, one appointment) and their messages.

    Holds ids and display values only: Refresh reads plain rows, never full model instances (phone
    number fields cost ~0.1 ms each to parse, which is most of a 20,000-row Refresh).
    """

    key: str
    recipient_type: str
    name: str
    client_id: int | None = None
    user_id: int | None = None
    appointment_id: int | None = None
    when: dt.datetime | None = None  # the appointment's start
    preferred: str = ""
    targets: list[Target] = field(default_factory=list)
    # A client's preferred language ("" for staff: the clinic's default) and date of birth (tells
    # same-name clients apart); ``language_label`` is what they get, set for the list's page
    # (messaging.languages.label_recipients).
    language: str = ""
    born: dt.date | None = None
    language_label: str = ""


@dataclass(frozen=True)
class Excluded:
    """A person (``channel`` empty) or one channel of a person that will not be messaged, and why.

    Do-Not-Send exclusions carry the address and ``category`` (DNS / Domain DNS): Send records them
    as suppressed deliveries so History shows them.
    """

    key: str
    name: str
    reason: str
    channel: str = ""
    recipient_type: str = RecipientType.CLIENT
    client_id: int | None = None
    user_id: int | None = None
    appointment_id: int | None = None
    address: str = ""
    source: str = ""
    category: str = ""
    language: str = ""  # the person's preferred language (the template variant a suppressed row records)

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel) if self.channel else ""

    @property
    def suppressed(self) -> bool:
        return bool(self.category)


@dataclass(frozen=True)
class ExcludedPerson:
    key: str
    name: str
    reasons: list[Excluded]
    partly: bool  # True: other channels of this person still go out


@dataclass
class RecipientList:
    recipients: list[Recipient] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    channels: tuple[str, ...] = ()

    @property
    def message_count(self) -> int:
        return sum(len(r.targets) for r in self.recipients)

    def counts_by_channel(self) -> dict[str, int]:
        counts = dict.fromkeys(self.channels, 0)
        for recipient in self.recipients:
            for target in recipient.targets:
                counts[target.channel] += 1
        return counts

    def excluded_people(self) -> list[ExcludedPerson]:
        """Exclusions grouped by person, in the order they were found."""
        receiving = {r.key for r in self.recipients}
        grouped: dict[str, list[Excluded]] = {}
        for entry in self.excluded:
            grouped.setdefault(entry.key, []).append(entry)
        return [
            ExcludedPerson(key=key, name=entries[0].name, reasons=entries, partly=key in receiving)
            for key, entries in grouped.items()
        ]

    def without(self, keys: Iterable[str]) -> RecipientList:
        """This list minus the rows staff unticked (they become 'Unticked by staff' exclusions)."""
        skip = set(keys)
        if not skip:
            return self
        kept = [r for r in self.recipients if r.key not in skip]
        unticked = [_excluded(r, Why.UNTICKED) for r in self.recipients if r.key in skip]
        # Do-Not-Send suppressions of unticked people are not recorded either.
        excluded = [e for e in self.excluded if e.key not in skip] + unticked
        return RecipientList(recipients=kept, excluded=excluded, channels=self.channels)


@dataclass
class _Candidate:
    """A person considered, before channel checks."""

    recipient: Recipient
    person_reason: str = ""
    pending: list[tuple[Target, Any]] = field(default_factory=list)


# --- Public selector ------------------------------------------------------------------------------


def recipients_for(
    *,
    message_type: MessageType,
    channels: Sequence[str],
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    only_preferences: bool = False,
) -> RecipientList:
    """Recipients of ``message_type`` on ``channels`` and everyone excluded with the reason.

    Appointment types consider the appointments starting between ``start_date`` and ``end_date``
    (whole days in the clinic's time zone); staff types consider staff users; ad hoc client types
    every active client. ``channels`` may be empty (Refresh before choosing Contact Methods): then
    only person-level reasons apply and rows carry no address yet.
    """
    channels = tuple(dict.fromkeys(channels))
    if message_type.audience == Audience.STAFF:
        candidates = list(_staff_candidates(message_type, channels, start_date, end_date))
    else:
        candidates = list(_client_candidates(message_type, channels, start_date, end_date, only_preferences))
    return _finish(candidates, channels)


# --- Clients --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    """The messaging-profile fields the address rules read (``messaging.addresses``)."""

    consent_given: bool
    preferred_contact_method: str
    use_client_detail_info: bool
    sms_opted_out: bool


class _Contact(SimpleNamespace):
    """Chart or alternate contact fields, as the raw stored strings (E.164 numbers); a field not
    read (no chosen channel needs it) is ""."""


def _raw(path: str) -> ExpressionWrapper:
    """A column read as plain text: skips the phone-number field's parsing of every value."""
    return ExpressionWrapper(F(path), output_field=CharField())


# Every field a channel reads an address from: the chart's / alternate's contact fields, then the
# client's own (the portal login), each with the ORM path a bulk read annotates.
_CONTACT_FIELDS = contact_field_names()
_OWN_FIELDS = {spec.address_field: spec.address_path for spec in all_specs() if spec.address_field}
_NO_CONTACT = dict.fromkeys([*_CONTACT_FIELDS, *_OWN_FIELDS], "")


def _fields_for_channel(channel: str) -> set[str]:
    """The contact fields the channel's address rule reads (its spec's ``contact_fields``)."""
    return set(spec_for(channel).contact_fields)


def _own_fields_for(channels: Sequence[str]) -> list[str]:
    return [spec_for(c).address_field for c in channels if spec_for(c).address_field]


_PERSON_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "is_active",
    "part2_diagnosis",
    "messaging__consent_given",
    "messaging__preferred_contact_method",
    "messaging__use_client_detail_info",
    "messaging__sms_opted_out",
    "messaging_contact__id",
    "preferred_language",
    "date_of_birth",
)


_N_PERSON = len(_PERSON_FIELDS)


@dataclass(frozen=True, slots=True)
class _ClientRow:
    id: int
    name: str
    is_active: bool
    part2: bool
    language: str
    born: dt.date | None
    profile: _Profile | None
    chart: _Contact
    alternate: _Contact | None


class _ClientColumns:
    """Which columns a client row is read with, and how a row tuple becomes a :class:`_ClientRow`.

    Only the contact fields the chosen channels need are read, as raw text.
    """

    def __init__(self, prefix: str, channels: Sequence[str]) -> None:
        needed = set().union(*(_fields_for_channel(c) for c in channels)) if channels else set()
        self.contact_fields = [f for f in _CONTACT_FIELDS if f in needed]
        self.fields = [f"{prefix}{f}" for f in _PERSON_FIELDS]
        self.raw = {f"c_{f}": _raw(f"{prefix}{f}") for f in self.contact_fields}
        self.raw |= {f"a_{f}": _raw(f"{prefix}messaging_contact__{f}") for f in self.contact_fields}
        self.own_fields = _own_fields_for(channels)
        self.raw |= {f"o_{f}": _raw(f"{prefix}{_OWN_FIELDS[f]}") for f in self.own_fields}

    @property
    def names(self) -> list[str]:
        return [*self.fields, *self.raw]

    def row(self, values: Sequence[Any]) -> _ClientRow:
        (pk, first, last, active, part2, consent, preferred, use_detail, stopped, alt_id, language, born) = values[
            :_N_PERSON
        ]
        n = len(self.contact_fields)
        chart_values, alt_values = values[_N_PERSON : _N_PERSON + n], values[_N_PERSON + n : _N_PERSON + 2 * n]
        own_values = values[_N_PERSON + 2 * n :]
        profile = None
        if consent is not None:  # LEFT JOIN: no profile row
            profile = _Profile(consent, preferred, use_detail, stopped)
        return _ClientRow(
            id=pk,
            name=f"{last}, {first}",
            is_active=active,
            part2=part2,
            language=language or "",
            born=born,
            profile=profile,
            chart=self._contact(chart_values, own_values),
            alternate=self._contact(alt_values) if alt_id is not None else None,
        )

    def _contact(self, values: Sequence[str | None], own: Sequence[str | None] = ()) -> _Contact:
        given = {f: v or "" for f, v in zip(self.contact_fields, values, strict=True)}
        if own:  # the chart row carries the client's own addresses; an alternate has none
            given |= {f: v or "" for f, v in zip(self.own_fields, own, strict=True)}
        return _Contact(**(_NO_CONTACT | given))


def _today() -> dt.date:
    return timezone.localdate(clock.now())


def day_bounds(start_date: dt.date | None, end_date: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) datetimes covering whole days in the clinic's time zone."""
    today = _today()
    start_date = start_date or today
    end_date = end_date or start_date
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(start_date, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _appointments(selection: str, start_date: dt.date | None, end_date: dt.date | None) -> QuerySet[Appointment]:
    start, end = day_bounds(start_date, end_date)
    qs = Appointment.objects.filter(start__gte=start, start__lt=end)
    if selection == Selection.INITIAL_APPOINTMENTS:
        qs = qs.filter(is_initial=True)
    elif selection == Selection.TELEHEALTH:
        qs = qs.filter(is_telehealth=True)
    elif selection == Selection.COMPLETED_APPOINTMENTS:
        qs = qs.filter(status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW])
    return qs.order_by("start", "id")


def _appointment_reason(selection: str, status: str, start: dt.datetime | None, now: dt.datetime) -> str:
    if status == AppointmentStatus.CANCELLED:
        return Why.CANCELLED
    if selection == Selection.COMPLETED_APPOINTMENTS:
        return Why.NO_SHOW if status == AppointmentStatus.NO_SHOW else ""
    if start is not None and start <= now:  # "upcoming" means upcoming (issue 12)
        return Why.STARTED
    if status == AppointmentStatus.COMPLETED:
        return Why.COMPLETED
    if status == AppointmentStatus.NO_SHOW:
        return Why.NO_SHOW
    return ""


def _client_candidates(
    message_type: MessageType,
    channels: tuple[str, ...],
    start_date: dt.date | None,
    end_date: dt.date | None,
    only_preferences: bool,
) -> Iterator[_Candidate]:
    part2_blocked = message_type.is_hie and _setting_490()
    if message_type.is_appointment_based:
        selection = message_type.selection
        columns = _ClientColumns("client__", channels)
        appointments = _appointments(selection, start_date, end_date).annotate(**columns.raw)
        now = clock.now()  # once: reading the clock per row was a fifth of Refresh's Python time
        for appointment_id, start, status, *values in appointments.values_list("id", "start", "status", *columns.names):
            client = columns.row(values)
            recipient = Recipient(
                key=f"a{appointment_id}",
                recipient_type=RecipientType.CLIENT,
                name=client.name,
                client_id=client.id,
                appointment_id=appointment_id,
                when=start,
                language=client.language,
                born=client.born,
            )
            extra = _appointment_reason(selection, status, start, now)
            yield _client_candidate(recipient, client, channels, only_preferences, part2_blocked, extra)
        return
    columns = _ClientColumns("", channels)
    clients = Client.objects.filter(is_active=True).order_by("last_name", "first_name", "id").annotate(**columns.raw)
    for values in clients.values_list(*columns.names):
        client = columns.row(values)
        recipient = Recipient(
            key=f"c{client.id}",
            recipient_type=RecipientType.CLIENT,
            name=client.name,
            client_id=client.id,
            language=client.language,
            born=client.born,
        )
        yield _client_candidate(recipient, client, channels, only_preferences, part2_blocked, "")


def _setting_490() -> bool:
    from messaging.system_settings import get_setting

    return bool(get_setting(490))


def _client_candidate(
    recipient: Recipient,
    client: _ClientRow,
    channels: tuple[str, ...],
    only_preferences: bool,
    part2_blocked: bool,
    appointment_reason: str,
) -> _Candidate:
    profile = client.profile
    if profile is not None:
        recipient.preferred = _PREFERRED_LABELS.get(profile.preferred_contact_method, "")
    candidate = _Candidate(recipient=recipient)
    if not client.is_active:
        candidate.person_reason = Why.INACTIVE
    elif profile is None:
        candidate.person_reason = Why.NO_PROFILE
    elif not profile.consent_given:
        candidate.person_reason = Why.NO_CONSENT
    elif part2_blocked and client.part2:
        candidate.person_reason = Why.PART2
    elif appointment_reason:
        candidate.person_reason = appointment_reason
    if candidate.person_reason:
        return candidate
    for channel in channels:
        if only_preferences and not preference_allows(profile, channel):  # type: ignore[arg-type]
            candidate.pending.append((Target(channel, "", ""), Why.preference(recipient.preferred)))
            continue
        choice = contact_address_for(
            client.chart,  # type: ignore[arg-type]  # the rules read only these fields
            channel,
            profile=profile,  # type: ignore[arg-type]
            alternate=client.alternate,  # type: ignore[arg-type]
        )
        if not choice.ok:
            candidate.pending.append((Target(channel, "", choice.source), choice.reason))
        else:
            candidate.pending.append((Target(channel, choice.address, choice.source), ""))
    return candidate


_PREFERRED_LABELS = dict(ContactMethod.choices)


# --- Staff users ----------------------------------------------------------------------------------


def _staff_candidates(
    message_type: MessageType,
    channels: tuple[str, ...],
    start_date: dt.date | None,
    end_date: dt.date | None,
) -> Iterator[_Candidate]:
    users = get_user_model().objects.filter(is_active=True)
    if message_type.selection == Selection.RENEWALS:
        start = start_date or _today()
        end = end_date or start
        users = users.filter(
            Q(staff_profile__licence_renewal_date__range=(start, end))
            | Q(staff_profile__credential_renewal_date__range=(start, end))
        )
    rows = (
        users.annotate(cell=_raw("staff_profile__cell_phone"), home=_raw("staff_profile__phone"))
        .order_by("last_name", "first_name", "id")
        .values("id", "username", "first_name", "last_name", "email", "staff_profile__display_name", "cell", "home")
    )
    for row in rows:
        yield _staff_candidate(row, channels)


def _staff_address_of(*, cell: str, phone: str, email: str, channel: str) -> str:
    """The first filled field of the channel's ``staff_fields`` (cell, home phone, user e-mail)."""
    values = {"cell": cell, "home": phone, "email": email}
    return next((values[name] for name in spec_for(channel).staff_fields if values[name]), "")


def staff_address(user: Any, profile: StaffProfile | None, channel: str) -> str:
    """A staff user's address on ``channel`` (cell for texts, cell or phone for calls, user e-mail)."""
    return _staff_address_of(
        cell=str(profile.cell_phone or "") if profile is not None else "",
        phone=str(profile.phone or "") if profile is not None else "",
        email=user.email or "",
        channel=channel,
    )


def _staff_name(row: dict[str, Any]) -> str:
    last, first = row["last_name"], row["first_name"]
    if last and first:
        return f"{last}, {first}"
    return row["staff_profile__display_name"] or row["username"]


def _staff_candidate(row: dict[str, Any], channels: tuple[str, ...]) -> _Candidate:
    recipient = Recipient(
        key=f"u{row['id']}", recipient_type=RecipientType.STAFF, name=_staff_name(row), user_id=row["id"]
    )
    candidate = _Candidate(recipient=recipient)
    for channel in channels:
        address = _staff_address_of(
            cell=row["cell"] or "", phone=row["home"] or "", email=row["email"] or "", channel=channel
        )
        if address:
            candidate.pending.append((Target(channel, address, USER), ""))
        else:
            reason = Why.staff_no_address(channel)
            candidate.pending.append((Target(channel, "", USER), reason))
    return candidate


# --- Do-Not-Send and assembly -----------------------------------------------------------------------


def _dns_lookup(candidates: list[_Candidate], channels: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Blocked addresses per channel: one query per chosen channel, whatever the number of rows."""
    wanted: dict[str, set[str]] = {ch: set() for ch in channels}
    for candidate in candidates:
        for target, reason in candidate.pending:
            if not reason and target.address:
                wanted[target.channel].add(target.address)
    return {ch: blocked_addresses(ch, addresses) for ch, addresses in wanted.items() if addresses}


def _excluded(recipient: Recipient, reason: str, channel: str = "", **extra: Any) -> Excluded:
    return Excluded(
        key=recipient.key,
        name=recipient.name,
        reason=reason,
        channel=channel,
        recipient_type=recipient.recipient_type,
        client_id=recipient.client_id,
        user_id=recipient.user_id,
        appointment_id=recipient.appointment_id,
        language=recipient.language,
        **extra,
    )


def _finish(candidates: list[_Candidate], channels: tuple[str, ...]) -> RecipientList:
    blocked = _dns_lookup(candidates, channels)
    result = RecipientList(channels=channels)
    for candidate in candidates:
        recipient = candidate.recipient
        if candidate.person_reason:
            result.excluded.append(_excluded(recipient, candidate.person_reason))
            continue
        for target, reason in candidate.pending:
            if reason:
                result.excluded.append(_excluded(recipient, reason, target.channel))
                continue
            on_list = blocked.get(target.channel)
            entry = on_list.get(normalise(target.channel, target.address)) if on_list else None
            if entry is not None:
                result.excluded.append(
                    _excluded(
                        recipient,
                        Why.dns(entry.get_reason_display(), entry.is_domain),
                        target.channel,
                        address=target.address,
                        source=target.source,
                        category="Domain DNS" if entry.is_domain else "DNS",
                    )
                )
                continue
            recipient.targets.append(target)
        if recipient.targets or not channels:
            result.recipients.append(recipient)
    return result
