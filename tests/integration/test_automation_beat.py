"""A reminder planned by a real Celery beat and sent by a real worker — once, even with two beats.

Processes: two ``celery beat`` (DatabaseScheduler: the schedule rows of django-celery-beat, as an
administrator would edit them; two beats by mistake), one ``celery worker`` (prefork, 2 processes),
Redis as the broker, PostgreSQL shared with this test, and the Twilio simulator in this process.
Time is shared through ``PIMSY_CLOCK_FILE`` (a Tuesday morning, running), so the run does not
depend on the wall clock being inside the SMS sending window.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest tests/integration/test_automation_beat.py``
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.fixtures import need
from tests.integration.support import ROOT, redis_ready, wait_for

BROKER = os.environ.get("AUTOMATION_TEST_BROKER", "redis://127.0.0.1:6379/6")

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def twilio(settings: Any) -> Iterator[Any]:
    from messaging.simulators.twilio_sim import start_twilio_sim

    with start_twilio_sim(account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN) as handle:
        yield handle


@pytest.fixture
def processes(tmp_path: Path, clock_file: str, twilio: Any) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start celery processes against this test's database; stop them all afterwards."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "PIMSY_TESTING": "1",
        "PIMSY_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "PIMSY_CLOCK_FILE": clock_file,
        "TWILIO_API_BASE": twilio.url,
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",  # status callbacks go nowhere: "sent" is the end state
        "LOG_LEVEL": "WARNING",
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    started: list[subprocess.Popen[bytes]] = []

    def start(kind: str) -> subprocess.Popen[bytes]:
        celery = [sys.executable, "-m", "celery", "-A", "pimsy_messaging"]
        if kind == "worker":
            args = ["worker", "-c", "2", "-l", "WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        else:
            args = ["beat", "-l", "WARNING", "--max-interval", "1", "-s", str(tmp_path / f"beat-{len(started)}")]
        log = open(tmp_path / f"{kind}-{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(celery + args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_beat_plans_and_worker_sends_the_reminder_exactly_once(processes: Any, twilio: Any) -> None:
    need(settings.IS_POSTGRES, "needs PostgreSQL (DATABASE_URL=postgres://...) shared with worker and beat")
    need(redis_ready(BROKER), f"needs Redis at {BROKER}")
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from clients.tests.factories import make_appointment, make_client
    from core import clock
    from messaging.automation import PLANNER_SCHEDULE_NAME, ensure_automation_schedules
    from messaging.models import Delivery, Status

    # The administrator's view of the schedule: make the planner run every second for the test.
    ensure_automation_schedules()
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=PLANNER_SCHEDULE_NAME).update(interval=every_second)

    client = make_client(time_zone="America/New_York")
    lead = dt.timedelta(seconds=8)  # the "2 days before" send time is 8 seconds from now
    appointment = make_appointment(client, start=clock.now() + dt.timedelta(days=2) + lead)

    processes("worker")
    processes("beat")
    processes("beat")  # a second beat by mistake: still one reminder

    def reminder() -> Delivery | None:
        return Delivery.objects.filter(appointment=appointment).first()

    planned = wait_for(reminder, timeout=30, what="the planner to write the reminder")
    assert planned.status in (Status.SCHEDULED, Status.QUEUED, Status.SENDING, Status.SENT)
    assert planned.broadcast.automated

    def sent() -> bool:
        row = reminder()
        return row is not None and row.status in (Status.SENT, Status.DELIVERED)

    wait_for(sent, timeout=45, what="the worker to send the reminder")
    row = reminder()
    assert row.sent_at is not None and row.sent_at >= appointment.start - dt.timedelta(days=2)
    time.sleep(3)  # several more beats of both beat processes
    assert Delivery.objects.filter(appointment=appointment).count() == 1
    texts = [r for r in twilio.received() if r["kind"] == "sms" and r["to"] == str(client.cell_phone)]
    assert len(texts) == 1, texts
    assert "reminder of your appointment" in texts[0]["body"]
    assert row.attempts.count() == 1
