"""The one clock every time-dependent rule reads (stop times, the sweeper, leases, automation).

``now()`` is ``django.utils.timezone.now()`` unless a test (or the demo) controls time:

* In one process: ``with clock.freeze(dt) as frozen: ...`` stops time at ``dt``;
  ``frozen.advance(minutes=5)`` / ``frozen.set(other_dt)`` move it. ``clock.travel(dt)`` starts
  time at ``dt`` and lets it run at normal speed.
* Across processes (a real Celery worker in integration tests): the environment variable
  ``PIMSY_CLOCK_FILE`` names a file holding ``<iso datetime>`` (frozen) or
  ``<iso datetime>@<unix time>`` (that instant at that real moment, then running). Tests rewrite
  the file to move time; every process sharing it agrees. Honoured only with DEBUG, the demo or
  tests, never in production.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

_lock = threading.Lock()


class ControlledClock:
    """A clock that is frozen (``running=False``) or runs from an anchor instant."""

    def __init__(self, instant: dt.datetime, *, running: bool = False) -> None:
        self._instant = _aware(instant)
        self._anchor = time.monotonic()
        self.running = running

    def now(self) -> dt.datetime:
        if not self.running:
            return self._instant
        return self._instant + dt.timedelta(seconds=time.monotonic() - self._anchor)

    def set(self, instant: dt.datetime) -> None:
        self._instant = _aware(instant)
        self._anchor = time.monotonic()

    def advance(self, delta: dt.timedelta | None = None, **kwargs: float) -> dt.datetime:
        """Move time forward by ``delta`` or ``timedelta(**kwargs)``; returns the new now."""
        self.set(self.now() + (delta if delta is not None else dt.timedelta(**kwargs)))
        return self.now()


_override: ControlledClock | None = None


def now() -> dt.datetime:
    """The current time (aware, UTC) as the messaging rules see it."""
    override = _override
    if override is not None:
        return override.now()
    from_file = _file_clock.now()
    return from_file if from_file is not None else timezone.now()


@contextmanager
def freeze(instant: dt.datetime) -> Iterator[ControlledClock]:
    """Stop time at ``instant`` (naive values are read in the clinic's time zone)."""
    with _controlled(ControlledClock(instant, running=False)) as clock:
        yield clock


@contextmanager
def travel(instant: dt.datetime) -> Iterator[ControlledClock]:
    """Start time at ``instant`` and let it run."""
    with _controlled(ControlledClock(instant, running=True)) as clock:
        yield clock


@contextmanager
def _controlled(clock: ControlledClock) -> Iterator[ControlledClock]:
    global _override
    with _lock:
        previous, _override = _override, clock
    try:
        yield clock
    finally:
        with _lock:
            _override = previous


def write_clock_file(path: str, instant: dt.datetime, *, running: bool = False) -> None:
    """Set the cross-process clock (see the module docstring); atomic replace."""
    text = _aware(instant).isoformat()
    if running:
        text += f"@{time.time():.6f}"
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


class _FileClock:
    """Reads ``PIMSY_CLOCK_FILE``; re-reads only when the file changes (one stat per call)."""

    def __init__(self) -> None:
        self._key: tuple[str, float, int] | None = None
        self._value: tuple[dt.datetime, float | None] | None = None

    def now(self) -> dt.datetime | None:
        path = os.environ.get("PIMSY_CLOCK_FILE", "")
        if not path or not _allowed():
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (path, stat.st_mtime, stat.st_size)
        if key != self._key:
            self._value = _parse_clock_text(_read(path))
            self._key = key
        if self._value is None:
            return None
        instant, real = self._value
        return instant if real is None else instant + dt.timedelta(seconds=time.time() - real)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _parse_clock_text(text: str) -> tuple[dt.datetime, float | None] | None:
    if not text:
        return None
    iso, _, real = text.partition("@")
    try:
        return _aware(dt.datetime.fromisoformat(iso)), (float(real) if real else None)
    except ValueError:
        return None


def _allowed() -> bool:
    from django.conf import settings

    return bool(settings.DEBUG or settings.DEMO_MODE or settings.TESTING)


def _aware(instant: dt.datetime) -> dt.datetime:
    if timezone.is_naive(instant):
        instant = timezone.make_aware(instant, timezone.get_default_timezone())
    return instant.astimezone(dt.UTC)


_file_clock = _FileClock()


def clinic_zone() -> zoneinfo.ZoneInfo:
    """The clinic's time zone (``CLINIC_TIME_ZONE``): the zone of clients and staff without one of their own."""
    from django.conf import settings

    return zoneinfo.ZoneInfo(settings.TIME_ZONE)
