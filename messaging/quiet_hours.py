"""Quiet hours: the messaging day [start, stop) on the recipient's wall clock, and when it opens next.

Setting 274 starts the messaging day for every channel (``MESSAGING_DAY_START`` is only its initial
value); each channel's stop time ends it (270 voice, 272 SMS, 273 fax: the channel spec's
``stop_time_setting``; e-mail and the portal have none). The window is [start, stop) on the
recipient's wall clock within one calendar day: it never runs past midnight. A stop time at or
before the start is refused when it is saved (:func:`window_change_error`, asked by the admin form
and ``messaging.services_settings.setting_update``); a window that is empty all the same (values
stored before that check existed) lets nothing out.

Daylight-saving changes are read off the wall clock: on a spring-forward day a start inside the
skipped hour opens the window when the clock jumps past it; on a fall-back day the repeated hour
may take the clock out of the window and back in, and the window opens again when it comes back.

Pure clock arithmetic plus the numbered settings: the dispatcher (``messaging.dispatch.windows``)
and the automated planner (``messaging.automation.specs``) both use it, so it imports neither.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from messaging.channels.registry import all_specs
from messaging.system_settings import REGISTRY, get_setting

DAY_START_SETTING = 274
_LOOK_AHEAD_DAYS = 3  # a valid window opens within two days whatever the clock does
_SCAN_STEP = dt.timedelta(hours=1)  # no zone changes its offset twice within an hour


@dataclass(frozen=True)
class Window:
    """[start, stop) on a wall clock; empty when ``stop`` is not after ``start``."""

    start: dt.time
    stop: dt.time

    @property
    def empty(self) -> bool:
        return self.stop <= self.start

    def holds(self, moment: dt.time) -> bool:
        return self.start <= moment.replace(tzinfo=None, fold=0) < self.stop

    def holds_instant(self, instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> bool:
        return self.holds(instant.astimezone(zone).time())


def stop_time_settings() -> dict[str, int]:
    """Each channel's stop-time setting (270 voice, 272 SMS, 273 fax), from the channel registry."""
    return {spec.kind: spec.stop_time_setting for spec in all_specs() if spec.stop_time_setting}


def window_settings() -> frozenset[int]:
    """The settings that shape a window: the start of the day and every stop time."""
    return frozenset({DAY_START_SETTING, *stop_time_settings().values()})


def _time_setting(number: int) -> dt.time:
    value = get_setting(number)
    if not isinstance(value, dt.time):
        raise TypeError(f"setting {number} is a time of day, not {value!r}")
    return value


def day_start() -> dt.time:
    """The start of the messaging day (setting 274), on every recipient's own wall clock."""
    return _time_setting(DAY_START_SETTING)


def window_for(channel: str) -> Window | None:
    """The channel's window, or None when it may send at any hour (e-mail, the portal)."""
    number = stop_time_settings().get(channel)
    if number is None:
        return None
    return Window(day_start(), _time_setting(number))


# --- When the window opens --------------------------------------------------------------------------


def next_opening(window: Window, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """None when ``now`` is inside ``window`` in ``zone``; else the first later instant that is (UTC).

    The clock enters the window either by reaching the start time (on a fall-back day the start
    may come twice) or by jumping into it at a daylight-saving change. An empty window is never
    entered: the answer is then the next start, where the caller will find it closed again.
    """
    if window.holds_instant(now, zone):
        return None
    today = now.astimezone(zone).date()
    found = [
        instant
        for offset in range(_LOOK_AHEAD_DAYS)
        for instant in _wall_instants(today + dt.timedelta(days=offset), window.start, zone)
        if instant > now
    ]
    horizon = min(found, default=now + dt.timedelta(days=_LOOK_AHEAD_DAYS))
    found += [t for t in offset_changes(zone, now, horizon) if t > now and window.holds_instant(t, zone)]
    return min(found, default=horizon).astimezone(dt.UTC)


def day_opening(day: dt.date, start: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant of local date ``day`` whose wall-clock time is ``start`` or later (UTC).

    ``start`` itself when the clock shows it (the first time, on a fall-back day); when the clock
    skips it (spring forward), the instant it jumps past it.
    """
    instants = _wall_instants(day, start, zone)
    if instants:
        return instants[0]
    naive = dt.datetime.combine(day, start, tzinfo=zone)
    ends = sorted(naive.replace(fold=fold).astimezone(dt.UTC) for fold in (0, 1))
    changes = offset_changes(zone, ends[0], ends[1])
    return changes[0] if changes else ends[1]


def _wall_instants(day: dt.date, moment: dt.time, zone: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    """The instants (UTC, in order) at which the wall clock in ``zone`` shows ``day`` ``moment``:
    none in a spring-forward gap, two in a fall-back overlap, else one."""
    result: list[dt.datetime] = []
    for fold in (0, 1):
        instant = dt.datetime.combine(day, moment, tzinfo=zone).replace(fold=fold).astimezone(dt.UTC)
        back = instant.astimezone(zone)
        if back.date() == day and back.time().replace(fold=0) == moment and instant not in result:
            result.append(instant)
    return sorted(result)


def offset_changes(zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The instants (UTC, to the second) in (``start``, ``end``] at which ``zone`` changes its UTC offset."""
    return list(_changes(zone, start, end))


def _changes(zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    low = math.floor(start.timestamp())
    stop = math.ceil(end.timestamp())
    step = int(_SCAN_STEP.total_seconds())
    low_offset = _offset(zone, low)
    while low < stop:
        high = min(low + step, stop)
        high_offset = _offset(zone, high)
        if high_offset != low_offset:
            yield _bisect(zone, low, high, low_offset)
        low, low_offset = high, high_offset


def _bisect(zone: zoneinfo.ZoneInfo, low: int, high: int, low_offset: dt.timedelta | None) -> dt.datetime:
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, middle) == low_offset:
            low = middle
        else:
            high = middle
    return dt.datetime.fromtimestamp(high, dt.UTC)


def _offset(zone: zoneinfo.ZoneInfo, timestamp: int) -> dt.timedelta | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).astimezone(zone).utcoffset()


# --- Saving the settings ----------------------------------------------------------------------------


def window_change_error(number: int, value: dt.time, current: Mapping[int, dt.time]) -> str:
    """Why setting ``number`` may not become ``value`` given the ``current`` window settings ("" if it may).

    The window runs from the start of the day to the stop time on the same day, so every stop time
    must be later than the start: changing the start or a stop time must keep it so.
    """
    stops = sorted(stop_time_settings().values())
    if number == DAY_START_SETTING:
        clashes = [n for n in stops if n in current and current[n] <= value]
        if not clashes:
            return ""
        listed = "; ".join(f"{REGISTRY[n].name} ({n}) is {current[n]:%H:%M}" for n in clashes)
        return (
            f"The start of the messaging day must be earlier than every stop time, and {listed}. "
            "Messages go out from the start until the stop time on the same day, never past midnight: "
            "choose an earlier start, or first make the stop time later."
        )
    start = current.get(DAY_START_SETTING)
    if number in stops and start is not None and value <= start:
        return (
            f"The stop time must be later than the start of the messaging day "
            f"({REGISTRY[DAY_START_SETTING].name} ({DAY_START_SETTING}) is {start:%H:%M}). "
            "Messages go out from the start until the stop time on the same day, never past midnight."
        )
    return ""
