"""Who a message goes to (Refresh on the New tab, and again at Send): recipients and excluded people.

``recipients_for`` reads everything it needs in a fixed number of queries, whatever the number of
rows: one for the candidates (appointment, client, messaging profile and alternate contact joined,
read as plain rows), one Do-Not-Send lookup per chosen channel, and the settings cache. A client
row's addresses come from the plan of its shape (``messaging.recipient_rows``): the address rules run
once per distinct shape, not once per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from bounces.selectors import blocked_addresses, normalise
from clients.models import Appointment, AppointmentStatus, Client, StaffProfile
from core import clock
from core.collector import collector_paused
from messaging.channels.registry import label as channel_label
from messaging.channels.registry import spec_for
from messaging.exclusions import Why
from messaging.models import Audience, MessageType, RecipientType, Selection
from messaging.recipient_rows import Plans, Step, raw_text

CHART, ALTERNATE, USER = "chart", "alternate", "user"
SOURCE_LABELS = {CHART: "Chart", ALTERNATE: "Messaging Contact", USER: "User profile"}


@dataclass(frozen=True, slots=True)
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


@dataclass(slots=True)
class _Candidate:
    """A person considered, before the Do-Not-Send check: a reason to leave them out, or one step per
    channel (``messaging.recipient_rows.Step``) whose column, when there is an address, indexes ``values``."""

    recipient: Recipient
    person_reason: str = ""
    steps: tuple[Step, ...] = ()
    values: Sequence[Any] = ()


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
    with collector_paused():  # every object made here stays alive (core.collector)
        if message_type.audience == Audience.STAFF:
            candidates = list(_staff_candidates(message_type, channels, start_date, end_date))
        else:
            candidates = list(_client_candidates(message_type, channels, start_date, end_date, only_preferences))
        return _finish(candidates, channels)


# --- Clients --------------------------------------------------------------------------------------


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
    appointment_based = message_type.is_appointment_based
    plans = Plans(
        "client__" if appointment_based else "",
        channels,
        offset=3 if appointment_based else 0,
        only_preferences=only_preferences,
        part2_blocked=part2_blocked,
    )
    # A row is kept as the tuple fetched, and a step's column indexes it: no object per row but the
    # recipient (each object kept is one more for the garbage collector to walk).
    shape = plans.shape
    pk, first, last, language, born = plans.columns(
        "id", "first_name", "last_name", "preferred_language", "date_of_birth"
    )
    if appointment_based:
        selection = message_type.selection
        appointments = _appointments(selection, start_date, end_date).annotate(**plans.raw)
        now = clock.now()  # once: reading the clock per row was a fifth of Refresh's Python time
        for row in appointments.values_list("id", "start", "status", *plans.names):  # Plans(offset=3)
            appointment_id, start = row[0], row[1]
            plan = plans[shape(row)]
            recipient = Recipient(
                key=f"a{appointment_id}",
                recipient_type=RecipientType.CLIENT,
                name=f"{row[last]}, {row[first]}",
                client_id=row[pk],
                appointment_id=appointment_id,
                when=start,
                preferred=plan.preferred,
                language=row[language] or "",
                born=row[born],
            )
            reason = plan.reason or _appointment_reason(selection, row[2], start, now)
            yield _Candidate(recipient, reason) if reason else _Candidate(recipient, "", plan.steps, row)
        return
    clients = Client.objects.filter(is_active=True).order_by("last_name", "first_name", "id").annotate(**plans.raw)
    for row in clients.values_list(*plans.names):
        plan = plans[shape(row)]
        recipient = Recipient(
            key=f"c{row[pk]}",
            recipient_type=RecipientType.CLIENT,
            name=f"{row[last]}, {row[first]}",
            client_id=row[pk],
            preferred=plan.preferred,
            language=row[language] or "",
            born=row[born],
        )
        yield _Candidate(recipient, plan.reason) if plan.reason else _Candidate(recipient, "", plan.steps, row)


def _setting_490() -> bool:
    from messaging.system_settings import get_setting

    return bool(get_setting(490))


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
        users.annotate(cell=raw_text("staff_profile__cell_phone"), home=raw_text("staff_profile__phone"))
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
    addresses = tuple(
        _staff_address_of(cell=row["cell"] or "", phone=row["home"] or "", email=row["email"] or "", channel=channel)
        for channel in channels
    )
    steps = tuple(
        (channel, i, USER, "") if address else (channel, -1, USER, Why.staff_no_address(channel))
        for i, (channel, address) in enumerate(zip(channels, addresses, strict=True))
    )
    return _Candidate(recipient, "", steps, addresses)


# --- Do-Not-Send and assembly -----------------------------------------------------------------------


def _dns_lookup(candidates: list[_Candidate], channels: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Blocked addresses per channel: one query per chosen channel, whatever the number of rows."""
    wanted: dict[str, set[str]] = {ch: set() for ch in channels}
    for candidate in candidates:
        values = candidate.values
        for channel, column, _source, reason in candidate.steps:
            if not reason and column >= 0:
                wanted[channel].add(values[column])
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
        values = candidate.values
        for channel, column, source, reason in candidate.steps:
            if reason:
                result.excluded.append(_excluded(recipient, reason, channel))
                continue
            address = values[column] if column >= 0 else ""
            on_list = blocked.get(channel)
            entry = on_list.get(normalise(channel, address)) if on_list else None
            if entry is not None:
                result.excluded.append(
                    _excluded(
                        recipient,
                        Why.dns(entry.get_reason_display(), entry.is_domain),
                        channel,
                        address=address,
                        source=source,
                        category="Domain DNS" if entry.is_domain else "DNS",
                    )
                )
                continue
            recipient.targets.append(Target(channel, address, source))
        if recipient.targets or not channels:
            result.recipients.append(recipient)
    return result
