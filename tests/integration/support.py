"""What the integration tests share: their clock, Redis check and polling."""

from __future__ import annotations

import datetime as dt
import os
import time
import zoneinfo
from collections.abc import Callable, Iterator
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


# The broker the dispatcher's integration tests use (a Redis database of the machine's server).
BROKER = os.environ.get("DISPATCH_TEST_BROKER", "redis://127.0.0.1:6379/4")


@pytest.fixture
def services() -> None:
    """PostgreSQL and Redis, or a skip on a laptop (a failure under REQUIRE_SERVICES=1)."""
    from django.conf import settings

    from tests.fixtures import need

    need(settings.IS_POSTGRES, "integration tests need PostgreSQL (DATABASE_URL=postgres://…)")
    need(redis_ready(BROKER), f"integration tests need Redis at {BROKER}")


@pytest.fixture
def twilio(settings: Any) -> Iterator[Any]:
    """The Twilio simulator in this process, keeping 20,000 records (room to see a duplicate)."""
    from messaging.simulators.base import Recorder
    from messaging.simulators.twilio_sim import start_twilio_sim

    with start_twilio_sim(
        account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN, callback_delay_ms=10
    ) as handle:
        handle.sim.recorder = Recorder(max_records=20_000)
        yield handle


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Shared time for this process and the worker and beat processes: a Tuesday morning, running."""
    from core.clock import write_clock_file

    path = str(tmp_path / "clock")
    write_clock_file(path, TUESDAY_MORNING, running=True)
    monkeypatch.setenv("PIMSY_CLOCK_FILE", path)
    return path


class Beat:
    """This process plays Celery beat for several tasks: ``{task name: every seconds}`` on ``broker``.

    An explicit connection, as in ``test_dispatch_worker``: a CELERY_BROKER_URL in the environment
    would otherwise win. A broker that went away (a fault test restarts it) is retried each tick.
    Each task expires after its period, as the PeriodicTasks do: runs never stack up in the queue."""

    def __init__(self, broker: str, tasks: dict[str, float]) -> None:
        import threading

        self.broker, self.tasks = broker, tasks
        self.sent: dict[str, int] = dict.fromkeys(tasks, 0)
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from celery import Celery

        client = Celery("faults-test-beat", broker=self.broker, set_as_current=False)
        due = dict.fromkeys(self.tasks, 0.0)
        while not self._stop.wait(0.1):
            now = time.monotonic()
            for name, every in self.tasks.items():
                if now < due[name]:
                    continue
                due[name] = now + every
                try:
                    with client.connection_for_write(url=self.broker) as connection:
                        client.send_task(name, connection=connection, retry=False, expires=every)
                    self.sent[name] += 1
                except Exception:  # the broker is down: the next tick tries again
                    self.errors += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Supervisor:
    """Restarts a worker process that exited, as production's process manager does (docker-compose's
    ``restart: unless-stopped``). ``start()`` starts one and returns it; ``restarts`` counts."""

    def __init__(self, start: Callable[[], Any]) -> None:
        import threading

        self._start = start
        self.process = start()
        self.restarts = 0
        self.exit_codes: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            code = self.process.poll()
            if code is not None:
                self.exit_codes.append(code)
                self.restarts += 1
                self.process = self._start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
