"""Stop times: when a channel may send, in the recipient's time zone.

Setting 274 starts the messaging day and 270 (voice), 272 (SMS), 273 (fax) end it, as the window
[start, stop) on the recipient's wall clock that never runs past midnight; e-mail has no window
(:mod:`messaging.quiet_hours` holds the rule and the clock arithmetic). Work outside the window is
queued again for the next window's start — never dropped
(:func:`messaging.dispatch.checks.check_before_send` decides that at send time).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from core import clock
from messaging.models import Delivery
from messaging.quiet_hours import next_opening, stop_time_settings, window_for

# Each channel's stop-time setting (270 voice, 272 SMS, 273 fax), from the registry; e-mail has none.
STOP_TIME_SETTINGS = stop_time_settings()


def sending_window(channel: str) -> tuple[dt.time, dt.time] | None:
    """(start of day, stop time) for the channel, or None when it may send at any hour (e-mail)."""
    window = window_for(channel)
    return None if window is None else (window.start, window.stop)


def next_window_start(channel: str, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """None when ``now`` is inside the channel's window in ``zone``; else the next window's start (UTC)."""
    window = window_for(channel)
    if window is None:
        return None
    return next_opening(window, zone, now)


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
