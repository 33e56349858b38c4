"""What the automated message types are and when they go out (no database writes here).

The type codes, the reasons staff see in History (``Why``), one send time (``Offset``), how each
type is planned (``AutoType`` / ``AUTO_TYPES``), and the clock arithmetic of send times
(``send_time``, ``day_start``, ``stamp``). Also
which the dispatcher calls at send time: this module imports nothing from ``messaging.dispatch``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clients.models import AppointmentStatus
from core import clock
from messaging.models import OffsetUnit, Status
from messaging.quiet_hours import day_opening, day_start
from messaging.system_settings import get_setting

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
PORTAL_NOTICE = "portal-message-notice"  # a portal message is waiting (messaging.channels.portal)
CLINICIAN_REPLY = "clinician-reply-notice"  # a client asked to cancel: the clinician is told (messaging.inbound)

# What an appointment-based send time is measured from.
START, BOOKED, END, RENEWAL = "start", "booked", "end", "renewal"


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


def enrolled(spec: AutoType) -> bool:
    return spec.enrol_setting is None or bool(get_setting(spec.enrol_setting))


clinic_zone = clock.clinic_zone


def send_time(anchor_kind: str, offset: Offset, *, anchor: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a message ``offset`` from ``anchor`` goes out, in UTC.

    Days count on the recipient's wall clock (same local time N days earlier or later); hours and
    minutes are exact. "0 days before" is the start of the messaging day (setting 274) on the
    anchor's day: the first instant the recipient's clock shows it (or jumps past it, on a
    spring-forward day).
    """
    sign = -1 if anchor_kind in (START, RENEWAL) else 1
    if offset.unit == OffsetUnit.DAYS:
        local = anchor.astimezone(zone)
        if offset.amount == 0 and sign < 0:
            return day_opening(local.date(), day_start(), zone)
        return (local + sign * offset.delta).astimezone(dt.UTC)
    return (anchor + sign * offset.delta).astimezone(dt.UTC)


def stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


# --- Small shared helpers ------------------------------------------------------------------------


def _related(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return None
