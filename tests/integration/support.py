"""What the integration tests share: their clock, Redis check and polling."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NY = zoneinfo.ZoneInfo("America/New_York")
TUESDAY_MORNING = dt.datetime(2025, 6, 3, 10, 0, tzinfo=NY)  # inside every sending window


def redis_ready(url: str) -> bool:
    """Redis answers at ``url``; its database is emptied (no stale tasks or rate buckets from earlier runs)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()
        return True
    except Exception:
        return False


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Shared time for this process and the worker and beat processes: a Tuesday morning, running."""
    from core.clock import write_clock_file

    path = str(tmp_path / "clock")
    write_clock_file(path, TUESDAY_MORNING, running=True)
    monkeypatch.setenv("PIMSY_CLOCK_FILE", path)
    return path
