"""The words every screen uses for a delivery's state, and the one clock they are told in.

One helper, :func:`status_words`, gives a delivery's label, the reason it shows with it and the
badge's class, from the stored status and reason, so History, the delivery detail and the CSV say the
same thing for the same state:

* a message not yet due is **Scheduled** ("Goes out Mon Dec 7, 9:00 AM clinic time"), whether an
  automated rule planned it (``scheduled``) or staff dated a broadcast in the future (stored
  ``queued`` with a later ``next_attempt_at`` and no attempt yet);
* a message held for the recipient's messaging day (quiet hours, ``messaging.quiet_hours``) is
  **Waiting**: "Waiting for the messaging day to start at 8:00 AM tomorrow" (with the clinic's time
  when the client's zone differs); a channel switched off is Waiting too, with its reason;
* a message held for its address's pause is **Paused** (``messaging.dispatch.pauses``);
* everything else keeps its status's label (``messaging.models.Status``).

Times are the clinic's, labelled "clinic time"; a stored reason written with a UTC time
(``… at 2026-12-06 16:42 UTC``) is shown in clinic time (:func:`clinic_times`).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from core import clock
from messaging.dispatch.pauses import is_paused
from messaging.models import Status

STATUS_LABELS: dict[str, str] = dict(Status.choices)
STATUS_CSS: dict[str, str] = {
    Status.DELIVERED: "ok",
    Status.SENT: "ok",
    Status.FAILED: "bad",
    Status.SUPPRESSED: "warn",
    Status.CANCELLED: "muted",
}
SCHEDULED = STATUS_LABELS[Status.SCHEDULED]
WAITING = "Waiting"
PAUSED = "Paused"

# What messaging.dispatch.checks writes for a message held for the sending window:
# "Outside the sending window (08:00–21:00 America/New_York); waits for the next window".
_OUTSIDE = "Outside the sending window"
_WINDOW_ZONE = re.compile(r"\(\d{1,2}:\d{2}\s*[–-]\s*\d{1,2}:\d{2} ([A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*)\)")
# A time written in UTC into a stored reason (messaging.outcomes: "resend 1 of 2 at 2026-12-06 16:42 UTC").
_UTC_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}) UTC")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class StatusWords:
    label: str  # "Scheduled", "Waiting", "Paused", "Failed"...
    reason: str  # why, and until when ("" when the label says it all)
    css: str = ""  # the badge's class: ok / bad / warn / muted

    @property
    def text(self) -> str:
        return f"{self.label} · {self.reason}" if self.reason else self.label


# --- The clock ------------------------------------------------------------------------------------


def clock_time(local: dt.datetime) -> str:
    """ "9:42 AM" (no leading zero; the same in every locale)."""
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def when(value: dt.datetime, zone: zoneinfo.ZoneInfo | None = None, *, now: dt.datetime | None = None) -> str:
    """ "Mon Dec 7, 9:42 AM" in ``zone`` (the clinic's by default); the year only when it is not this year."""
    local = timezone.localtime(value, zone)
    this_year = timezone.localtime(now or clock.now(), zone).year
    day = f"{_DAYS[local.weekday()]} {_MONTHS[local.month]} {local.day}"
    if local.year != this_year:
        day += f", {local.year}"
    return f"{day}, {clock_time(local)}"


def clinic_when(value: dt.datetime | None, *, now: dt.datetime | None = None) -> str:
    """ "Mon Dec 7, 9:42 AM clinic time" ("" for no time)."""
    return f"{when(value, now=now)} clinic time" if value else ""


def clinic_times(text: str) -> str:
    """``text`` with every "YYYY-MM-DD HH:MM UTC" in it told in clinic time instead."""
    if "UTC" not in text:
        return text

    def local(match: re.Match[str]) -> str:
        year, month, day, hour, minute = (int(part) for part in match.groups())
        try:
            instant = dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)
        except ValueError:
            return match.group(0)
        return clinic_when(instant)

    return _UTC_TIME.sub(local, text)


def zone_name(zone: zoneinfo.ZoneInfo) -> str:
    """ "America/New_York" as staff read it: "America/New York"."""
    return zone.key.replace("_", " ")


def clinic_zone_name() -> str:
    return zone_name(clock.clinic_zone())


# --- The status -----------------------------------------------------------------------------------------


def status_words(
    *,
    status: str,
    reason: str = "",
    next_attempt_at: dt.datetime | None = None,
    attempt_count: int = 0,
    now: dt.datetime | None = None,
) -> StatusWords:
    """The label, reason and badge class of a delivery in this state (see the module's docstring)."""
    reason = reason or ""
    if status == Status.QUEUED:
        if is_paused(status, reason):
            return StatusWords(PAUSED, reason, "warn")
        if reason.startswith(_OUTSIDE):
            return StatusWords(WAITING, waiting_for_day(reason, next_attempt_at, now=now), "warn")
        if reason.startswith("Waiting"):
            return StatusWords(WAITING, clinic_times(reason), "warn")
        if not reason and not attempt_count and next_attempt_at is not None:
            now = now or clock.now()
            if next_attempt_at > now:
                return StatusWords(SCHEDULED, f"Goes out {clinic_when(next_attempt_at, now=now)}")
    if status == Status.SCHEDULED and not reason and next_attempt_at is not None:
        return StatusWords(SCHEDULED, f"Goes out {clinic_when(next_attempt_at, now=now)}")
    return StatusWords(STATUS_LABELS.get(status, status), clinic_times(reason), STATUS_CSS.get(status, ""))


def waiting_for_day(reason: str, opens: dt.datetime | None, *, now: dt.datetime | None = None) -> str:
    """ "Waiting for the messaging day to start at 8:00 AM tomorrow", in the recipient's zone (named in the
    stored reason), with the clinic's time beside it when that zone is not the clinic's."""
    if opens is None:
        return "Waiting for the start of the messaging day"
    clinic = clock.clinic_zone()
    zone = _reason_zone(reason) or clinic
    now = now or clock.now()
    start = timezone.localtime(opens, zone)
    text = f"Waiting for the messaging day to start at {clock_time(start)}{_day_words(start, now, zone)}"
    if _same_clock(zone, clinic, opens):
        return f"{text} (clinic time)"
    there = timezone.localtime(opens, clinic)
    clinic_words = f"{clock_time(there)}{_day_words(there, now, clinic)} clinic time"
    return f"{text}, the client's time ({zone_name(zone)}); {clinic_words}"


def _reason_zone(reason: str) -> zoneinfo.ZoneInfo | None:
    match = _WINDOW_ZONE.search(reason)
    if match is None:
        return None
    try:
        return zoneinfo.ZoneInfo(match.group(1))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _same_clock(zone: zoneinfo.ZoneInfo, other: zoneinfo.ZoneInfo, at: dt.datetime) -> bool:
    return zone.key == other.key or at.astimezone(zone).utcoffset() == at.astimezone(other).utcoffset()


def _day_words(local: dt.datetime, now: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    today = timezone.localtime(now, zone).date()
    if local.date() == today:
        return " today"
    if local.date() == today + dt.timedelta(days=1):
        return " tomorrow"
    return f" on {_DAYS[local.weekday()]} {_MONTHS[local.month]} {local.day}"


# --- Attempts -------------------------------------------------------------------------------------------


def attempts_summary(kinds: Iterable[str], counted: int = 0) -> str:
    """ "2: the first attempt and 1 redial" from the kinds of the attempts made (Attempt.kind values).

    Counted from the attempts themselves: the delivery's ``resend_count`` / ``redial_count`` count the
    retries *scheduled*, so they read "1 resend" while that resend is still waiting to go out.
    """
    made = list(kinds)
    if not made:  # ``counted``: the delivery's attempt_count, for a delivery whose attempts were not kept
        return str(counted) if counted else "None yet"
    parts = []
    firsts = sum(1 for k in made if k == "first")
    if firsts:
        parts.append("the first attempt")
    for kind, one, many in (
        ("redial", "redial", "redials"),
        ("resend", "resend", "resends"),
        ("restart", "restart", "restarts"),
    ):
        n = sum(1 for k in made if k == kind)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{len(made)}: {listed}"
