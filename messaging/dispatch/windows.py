"""Stop times: when a channel may send, in the recipient's time zone.

Settings 270 (voice), 272 (SMS), 273 (fax) end the day and ``DAY_START_TIME`` starts it, in the
recipient's time zone; e-mail has no window. Work outside the window is queued again for the next
window's start — never dropped (:func:`messaging.dispatch.checks.check_before_send` decides that
at send time).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings

from core import clock
from messaging.channels.registry import all_specs
from messaging.models import Delivery
from messaging.system_settings import get_setting

# Each channel's stop-time setting (270 voice, 272 SMS, 273 fax), from the registry; e-mail has none.
STOP_TIME_SETTINGS = {spec.kind: spec.stop_time_setting for spec in all_specs() if spec.stop_time_setting}


def sending_window(channel: str) -> tuple[dt.time, dt.time] | None:
    """(start of day, stop time) for the channel, or None when it may send at any hour (e-mail)."""
    number = STOP_TIME_SETTINGS.get(channel)
    if number is None:
        return None
    stop = get_setting(number)
    if not isinstance(stop, dt.time):
        raise TypeError(f"setting {number} is a stop time, not {stop!r}")
    return dt.time.fromisoformat(settings.DAY_START_TIME), stop


def next_window_start(channel: str, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """None when ``now`` is inside the channel's window in ``zone``; else the next window's start (UTC)."""
    window = sending_window(channel)
    if window is None:
        return None
    start, stop = window
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    if start < stop:
        if start <= moment < stop:
            return None
        day = local.date() if moment < start else local.date() + dt.timedelta(days=1)
    else:  # a window across midnight (stop earlier than start)
        if moment >= start or moment < stop:
            return None
        day = local.date()
    return dt.datetime.combine(day, start, tzinfo=zone).astimezone(dt.UTC)


def recipient_zone(delivery: Delivery) -> zoneinfo.ZoneInfo:
    if delivery.client_id is not None:
        return delivery.client.zone
    profile = _related(delivery.user, "staff_profile") if delivery.user_id is not None else None
    if profile is not None:
        return profile.zone
    return clock.clinic_zone()


def _related(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return None
