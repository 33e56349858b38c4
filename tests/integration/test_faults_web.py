"""The web tier is killed and restarted while status callbacks arrive (issue 17, scenario 5).

The Twilio simulator's callbacks go to a real gunicorn (2 workers) serving the application on its
own port, with this test's database. At a quarter of the broadcast gunicorn is killed (SIGKILL,
master and workers, requests in flight cut off) and started again 2 s later on the same port. A
callback whose request was cut off is sent again by the simulator (it retries connection errors)
or never arrives; reconciliation asks Twilio for what was missed. Each callback is one transaction
(the event row and the status change commit together), and a repeated one is a duplicate.

Asserted: every delivery ends delivered, each message reached the simulator once, no event was
applied twice (one applied event per message and status), and none half: a delivered row has its
applied "delivered" event and every applied "delivered" event belongs to a delivered row.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest -s tests/integration/test_faults_web.py``
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.support import ROOT, Beat, wait_for
from tests.integration.test_dispatch_worker import _database_url, bulk_deliveries, make_workers, statuses

BROKER = os.environ.get("DISPATCH_TEST_BROKER", "redis://127.0.0.1:6379/4")
MESSAGES = int(1200 * float(os.environ.get("PIMSY_FAULTS_SCALE", "0.5")))  # 600: gunicorn shares the 2 cores
DOWN_SECONDS = 2

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class Gunicorn:
    """``gunicorn pimsy_messaging.wsgi`` on a free loopback port; killed (not stopped) on request."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PUBLIC_BASE_URL": self.url}
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "pimsy_messaging.wsgi", "--bind", f"127.0.0.1:{self.port}",
            "--workers", "2", "--threads", "4", "--graceful-timeout", "1",
        ]  # fmt: skip
        log = open(self.logs / f"gunicorn-{self.starts}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.starts += 1
        wait_for(self.answers, timeout=30, what="gunicorn to answer")

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def kill(self) -> None:
        """SIGKILL the master and its workers (one process group): requests in flight are cut off."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def test_web_tier_killed_mid_callbacks_no_callback_applied_twice_or_half(
    services: None, tmp_path: Path, clock_file: str, settings: Any
) -> None:
    from messaging.models import Delivery, ProviderEvent
    from messaging.simulators.base import Recorder
    from messaging.simulators.twilio_sim import start_twilio_sim

    with start_twilio_sim(
        account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN, callback_delay_ms=10
    ) as twilio:
        twilio.sim.recorder = Recorder(max_records=20_000)
        workers = make_workers(tmp_path, clock_file, "http://127.0.0.1:9", TWILIO_API_BASE=twilio.url,
                               RECONCILE_AFTER_SECONDS="8")  # fmt: skip
        web = Gunicorn({**workers.env, "DATABASE_URL": _database_url()}, tmp_path)
        workers.env["PUBLIC_BASE_URL"] = web.url  # the callback URLs the worker gives Twilio
        broadcast, deliveries = bulk_deliveries([f"+1617555{n:04d}" for n in range(2000, 2000 + MESSAGES)])
        beat = None
        try:
            web.start()
            workers.start()
            beat = Beat(BROKER, {"messaging.sweep": 0.5, "messaging.reconcile": 2.0})
            wait_for(lambda: statuses(broadcast)["delivered"] >= MESSAGES // 4, timeout=60,
                     what="a quarter of the broadcast delivered")  # fmt: skip
            at_kill = statuses(broadcast)
            killed = time.monotonic()
            web.kill()
            time.sleep(DOWN_SECONDS)
            web.start()
            wait_for(lambda: statuses(broadcast)["delivered"] == MESSAGES, timeout=90,
                     what=f"every delivery delivered (web killed at {dict(at_kill)})")  # fmt: skip
            recovered = time.monotonic() - killed
        except AssertionError:
            print(workers.log_tail(), statuses(broadcast))
            print([c for r in twilio.received()[:20] for c in r.get("callbacks", [])][:3])
            raise
        finally:
            if beat is not None:
                beat.stop()
            workers.stop_all()
            web.kill()
        sent = [r for r in twilio.received() if r.get("kind") == "sms" and r.get("accepted")]

    callbacks = [c for r in sent for c in r.get("callbacks", [])]
    answers = collections.Counter(c.get("http_status") or "no answer" for c in callbacks)
    retried = sum(1 for c in callbacks if (c.get("attempts") or 1) > 1)
    events = ProviderEvent.objects.filter(delivery__broadcast=broadcast)
    reconciled = events.filter(payload__source="reconciliation", applied=True).count()
    print(
        f"\nweb tier killed at {dict(at_kill)}, down {DOWN_SECONDS}s; all {MESSAGES} delivered {recovered:.1f}s "
        f"after the kill; callback answers {dict(answers)}; {retried} callbacks sent again by the simulator; "
        f"{reconciled} deliveries settled by reconciliation"
    )
    per_token = collections.Counter(urlsplit(r["status_callback"]).path.split("/")[4] for r in sent)
    assert set(per_token) == {d.token for d in deliveries} and max(per_token.values()) == 1
    applied = collections.Counter(events.filter(applied=True).values_list("delivery_id", "status"))
    assert max(applied.values()) == 1, "an event was applied twice"
    delivered = set(Delivery.objects.filter(broadcast=broadcast, status="delivered").values_list("pk", flat=True))
    assert {pk for pk, status in applied if status == "delivered"} == delivered
