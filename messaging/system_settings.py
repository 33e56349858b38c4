"""The numbered system settings the seed lists, as one typed registry.

Code reads them only through :func:`get_setting`; values are stored as text in
:class:`messaging.models.SystemSetting` and validated by their type before saving.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


class Kind(StrEnum):
    COUNT = "count"
    MINUTES = "minutes"
    SECONDS = "seconds"
    DAYS = "days"
    TIME = "time of day"
    BOOL = "yes/no"
    PHONE = "phone number"
    EMAIL = "e-mail address"
    TEXT = "text"


@dataclass(frozen=True)
class SettingDef:
    number: int
    name: str
    kind: Kind
    default: str
    help: str = ""
    minimum: int | None = None
    maximum: int | None = None
    allow_blank: bool = False


_RANGES = {Kind.COUNT: (0, 10), Kind.MINUTES: (1, 1440), Kind.SECONDS: (1, 120), Kind.DAYS: (0, 60)}


def _d(number: int, name: str, kind: Kind, default: str, help: str = "", **kw: object) -> SettingDef:
    lo, hi = _RANGES.get(kind, (None, None))
    kw.setdefault("minimum", lo)
    kw.setdefault("maximum", hi)
    return SettingDef(number, name, kind, default, help, **kw)  # type: ignore[arg-type]


def _initial_day_start() -> str:
    """Setting 274's default: ``MESSAGING_DAY_START`` (``settings.DAY_START_TIME``), as HH:MM."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    raw = str(getattr(settings, "DAY_START_TIME", "08:00"))
    try:
        return dt.time.fromisoformat(raw).strftime("%H:%M")
    except ValueError as exc:
        raise ImproperlyConfigured(f"MESSAGING_DAY_START must be a time of day as HH:MM, not {raw!r}") from exc


REGISTRY: dict[int, SettingDef] = {
    s.number: s
    for s in [
        _d(
            182,
            "BILLING - STATEMENT message",
            Kind.TEXT,
            "Your statement is ready. Please call us with any questions.",
            "Text placed in Billing Statement messages ({{ statement_message }}).",
            allow_blank=True,
        ),
        _d(251, "MESSAGING - FAX - # of Resends", Kind.COUNT, "2", "Sends after the first (each redialled per 260)."),
        _d(256, "MESSAGING - EMAIL - # of Resends", Kind.COUNT, "2", "Times a soft-bounced e-mail is sent again."),
        _d(
            257,
            "MESSAGING - VOICE - # of Resends",
            Kind.COUNT,
            "2",
            "Sends after the first (each redialled per 266).",
        ),
        _d(258, "MESSAGING - EMAIL - Resend Interval", Kind.MINUTES, "60", "Minutes between e-mail resends."),
        _d(
            259,
            "MESSAGING - FAX - Restart unfinished Job",
            Kind.BOOL,
            "yes",
            "Yes: a fax job interrupted by a worker failure is restarted. No: it is marked failed.",
        ),
        _d(260, "MESSAGING - FAX - # of Redials", Kind.COUNT, "3", "Redials per send: busy / no answer / line error."),
        _d(262, "MESSAGING - FAX - Resend Interval", Kind.MINUTES, "30", "Minutes between fax resends."),
        _d(266, "MESSAGING - VOICE - # of Redials", Kind.COUNT, "2", "Redials per send: busy / no answer / failed."),
        _d(
            267,
            "MESSAGING - VOICE - OK to leave voicemail (clinic default)",
            Kind.BOOL,
            "yes",
            "Yes: a call answered by a machine leaves the message for consented clients whose chart says "
            "'Clinic default'. A client's own Yes or No always wins.",
        ),
        _d(268, "MESSAGING - VOICE - Resend Interval", Kind.MINUTES, "60", "Minutes between call resends."),
        _d(
            269,
            "MESSAGING - VOICE - Caller ID",
            Kind.PHONE,
            "",
            "Number shown to the client; empty uses the Twilio From number.",
            allow_blank=True,
        ),
        _d(
            270,
            "MESSAGING - VOICE - Stop Time",
            Kind.TIME,
            "21:00",
            "No calls after this time in the recipient's time zone.",
        ),
        _d(
            271,
            "VOICE - Restart unfinished Job",
            Kind.BOOL,
            "yes",
            "Yes: a call job interrupted by a worker failure is restarted. No: it is marked failed.",
        ),
        _d(
            272,
            "MESSAGING - SMS - Stop Time",
            Kind.TIME,
            "21:00",
            "No texts after this time in the recipient's time zone.",
        ),
        _d(
            273,
            "MESSAGING - FAX - Stop Time",
            Kind.TIME,
            "21:00",
            "No faxes after this time in the recipient's time zone.",
        ),
        _d(
            274,
            "MESSAGING - Start Time",
            Kind.TIME,
            _initial_day_start(),
            "No texts, calls or faxes before this time in the recipient's time zone; must be earlier than "
            "every stop time (270, 272, 273). Initially MESSAGING_DAY_START.",
        ),
        _d(
            276,
            "MESSAGING - EMAIL - Email from Address",
            Kind.EMAIL,
            "",
            "From address of messaging e-mail; empty uses DEFAULT_FROM_EMAIL.",
            allow_blank=True,
        ),
        _d(
            371,
            "PORTAL - Change or Forgot Password Change Message",
            Kind.TEXT,
            "Your client portal password was changed. If this was not you, call us.",
            "Text placed in Portal Password Change messages ({{ portal_message }}).",
            allow_blank=True,
        ),
        _d(
            420,
            "MESSAGE BOX - Minimum Time to Disappear",
            Kind.SECONDS,
            "5",
            "Seconds a message box (toast) stays on screen at least.",
        ),
        _d(
            490,
            "HIE - RELEASE - Prohibit HIE messages for any Client with CFR 42 Part 2 Diagnosis",
            Kind.BOOL,
            "yes",
            "Yes: clients with a Part 2 diagnosis receive no HIE messages.",
        ),
        _d(
            620,
            "CLIENT PORTAL - CLIENT MESSAGING - Expose or not expose",
            Kind.BOOL,
            "no",
            "Yes: messages sent to a client also appear in the client portal inbox.",
        ),
        _d(
            673,
            "MESSAGING - Show Client Replies on SAL Appointments",
            Kind.BOOL,
            "yes",
            "Yes: client replies are shown on the scheduled appointment list.",
        ),
        _d(
            751,
            "TELEHEALTH JAAS Send Messages to Clinicians",
            Kind.BOOL,
            "no",
            "Yes: the clinician receives the telehealth link too.",
        ),
        _d(
            759,
            "Automated Messaging - Standard & TELEHEALTH JAAS Auto Message 1 Interval DAYS",
            Kind.DAYS,
            "2",
            "Days before the appointment the reminder / telehealth message 1 goes out.",
        ),
        _d(
            760,
            "TELEHEALTH JAAS Auto Message 2 Interval MINUTES",
            Kind.MINUTES,
            "30",
            "Minutes before a telehealth appointment message 2 goes out.",
        ),
        _d(
            773,
            "Automated Messaging - Client Upcoming Appointments Enrolled",
            Kind.BOOL,
            "yes",
            "Yes: appointment reminders go out automatically.",
        ),
        _d(
            776,
            "Automated Messaging - Initial Appointment Confirmation Enrolled",
            Kind.BOOL,
            "yes",
            "Yes: booking an initial appointment sends a confirmation.",
        ),
        _d(
            780,
            "Automated Messaging - Post Appointment Message Enrolled",
            Kind.BOOL,
            "no",
            "Yes: a message goes out after an appointment is completed.",
        ),
    ]
}

SettingValue = int | bool | str | dt.time


def parse_value(definition: SettingDef, raw: str) -> SettingValue:
    """Parse and validate a stored/entered value; raise ValidationError with a staff-readable message."""
    text = (raw or "").strip()
    kind = definition.kind
    if text == "" and definition.allow_blank:
        return "" if kind in (Kind.TEXT, Kind.PHONE, Kind.EMAIL) else text
    if text == "":
        raise ValidationError("A value is required.")
    if kind in (Kind.COUNT, Kind.MINUTES, Kind.SECONDS, Kind.DAYS):
        return _parse_number(definition, text)
    if kind is Kind.BOOL:
        return _parse_bool(text)
    if kind is Kind.TIME:
        return _parse_time(text)
    if kind is Kind.PHONE:
        return _parse_phone(text)
    if kind is Kind.EMAIL:
        validate_email(text)
        return text
    if len(text) > 1000:
        raise ValidationError("At most 1000 characters.")
    return text


def _parse_number(definition: SettingDef, text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise ValidationError(f"Enter a whole number of {definition.kind.value}.") from exc
    lo, hi = definition.minimum, definition.maximum
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ValidationError(f"Enter a number from {lo} to {hi}.")
    return value


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"yes", "y", "true", "1", "on"}:
        return True
    if lowered in {"no", "n", "false", "0", "off"}:
        return False
    raise ValidationError("Enter yes or no.")


def _parse_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError("Enter a time of day as HH:MM (24-hour), e.g. 21:00.") from exc


def _parse_phone(text: str) -> str:
    import phonenumbers
    from django.conf import settings

    try:
        number = phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("Enter a valid phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Enter a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_value(definition: SettingDef, value: SettingValue) -> str:
    """The canonical stored text of a parsed value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


_CACHE_TTL = 2.0
_cache_lock = threading.Lock()
_cache: dict[int, str] = {}
_cache_loaded_at = 0.0


def clear_cache() -> None:
    global _cache_loaded_at
    with _cache_lock:
        _cache.clear()
        _cache_loaded_at = 0.0


def _stored_values() -> dict[int, str]:
    global _cache, _cache_loaded_at
    now = time.monotonic()
    with _cache_lock:
        if now - _cache_loaded_at < _CACHE_TTL:
            return _cache
    from messaging.models import SystemSetting

    values = dict(SystemSetting.objects.values_list("number", "value"))
    with _cache_lock:
        _cache, _cache_loaded_at = values, now
    return values


def get_setting(number: int) -> SettingValue:
    """The typed value of setting ``number`` (its default when never set)."""
    definition = REGISTRY[number]
    raw = _stored_values().get(number, definition.default)
    try:
        return parse_value(definition, raw)
    except ValidationError:
        return parse_value(definition, definition.default)
