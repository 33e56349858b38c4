"""The broker is lost mid-broadcast and comes back empty (issue 17, scenario 1).

The test starts its own Redis on a free port (never the machine's), a real worker and beat on it,
and a broadcast of texts. At a quarter of the broadcast Redis is killed (SIGKILL, no persistence)
and started again empty on the same port: every queued ``send_batch`` task is gone. The database
is the schedule: the claims those tasks carried expire after ``DISPATCH_LEASE_SECONDS`` and the
next sweep (every ``DISPATCH_SWEEP_SECONDS``) queues them again, once the worker has reconnected
(Celery retries the broker connection). Asserted: the lost claims are found again within the
lease + two sweeps + ``RECONNECT_SLACK``; every delivery ends delivered; the simulator received
each message exactly once. The figures are printed.

Celery 5.7 / kombu 5.7 with the threads pool sometimes stop the worker on the lost connection
("Unrecoverable error: AttributeError … 'hostname'": a task thread acks while the consumer
reconnects). Production's process manager restarts it (docker-compose ``restart: unless-stopped``);
here :class:`~tests.integration.support.Supervisor` does. A worker that stopped mid-send leaves
interrupted attempts, which wait ``DISPATCH_RESTART_GRACE_SECONDS`` for their callbacks before a
restart, so the bound then adds the grace.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest -s tests/integration/test_faults_broker.py``
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.fixtures import need
from tests.integration.support import Beat, Supervisor, redis_ready, wait_for
from tests.integration.test_dispatch_worker import bulk_deliveries, make_workers, statuses

LEASE, SWEEP, GRACE = 4, 1, 25  # DISPATCH_LEASE_SECONDS, _SWEEP_SECONDS, _RESTART_GRACE_SECONDS (the harness's)
RECONNECT_SLACK = 15  # the worker's broker reconnect (Celery backs off 2 s, 4 s, …) and a busy machine
MESSAGES = int(2000 * float(os.environ.get("PIMSY_FAULTS_SCALE", "0.5")))

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class OwnRedis:
    """A throw-away redis-server on a free loopback port: no persistence, killed at the end."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: redis_ready(self.url), timeout=10, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart_empty(self) -> None:
        self.kill()
        self.start()
        self.restarts += 1


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    need(settings.IS_POSTGRES, "integration tests need PostgreSQL (DATABASE_URL=postgres://…)")
    need(
        shutil.which("redis-server") is not None, "the broker test starts its own redis-server (apt-get install redis)"
    )
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def test_broker_restarted_empty_mid_broadcast_the_sweeper_finds_the_work_again(
    own_redis: OwnRedis, tmp_path: Path, clock_file: str, twilio: Any, live_server: Any, settings: Any
) -> None:
    from messaging.models import Delivery, Status

    settings.PUBLIC_BASE_URL = live_server.url
    workers = make_workers(
        tmp_path, clock_file, live_server.url, TWILIO_API_BASE=twilio.url,
        CELERY_BROKER_URL=own_redis.url, RATE_LIMIT_REDIS_URL=own_redis.url,
        DISPATCH_LEASE_SECONDS=str(LEASE), DISPATCH_SWEEP_SECONDS=str(SWEEP),
    )  # fmt: skip
    broadcast, deliveries = bulk_deliveries([f"+1617555{n:04d}" for n in range(2000, 2000 + MESSAGES)])
    beat = supervisor = None
    started = time.monotonic()
    try:
        supervisor = Supervisor(workers.start)
        beat = Beat(own_redis.url, {"messaging.sweep": SWEEP / 2})
        wait_for(lambda: statuses(broadcast)["delivered"] + statuses(broadcast)["sent"] >= MESSAGES // 4,
                 timeout=60, what="a quarter of the broadcast to go out")  # fmt: skip
        lost = dict(broadcast.deliveries.filter(status=Status.SENDING).values_list("pk", "claimed_by"))
        at_restart = statuses(broadcast)
        own_redis.restart_empty()
        restarted = time.monotonic()

        def found_again() -> bool:
            still = Delivery.objects.filter(pk__in=lost, status=Status.SENDING).values_list("pk", "claimed_by")
            return not any(lost[pk] == token for pk, token in still)

        wait_for(
            found_again, timeout=LEASE + GRACE + 2 * SWEEP + RECONNECT_SLACK + 10, what="the lost claims to be found"
        )
        recovered = time.monotonic() - restarted
        wait_for(lambda: statuses(broadcast)["delivered"] == MESSAGES, timeout=90, what="every delivery delivered")
        finished = time.monotonic() - started
    except AssertionError:
        print(workers.log_tail())
        raise
    finally:
        if beat is not None:
            beat.stop()
        if supervisor is not None:
            supervisor.stop()
        workers.stop_all()

    sent = [r for r in twilio.received() if r.get("kind") == "sms" and r.get("accepted")]
    per_token = collections.Counter(urlsplit(r["status_callback"]).path.split("/")[4] for r in sent)
    restarts = supervisor.restarts if supervisor else 0
    bound = LEASE + 2 * SWEEP + RECONNECT_SLACK + (GRACE if restarts else 0)
    print(
        f"\nbroker lost: Redis restarted empty at {dict(at_restart)} with {len(lost)} claims out; "
        f"found again in {recovered:.1f}s (bound {bound}s: lease {LEASE}s + 2 sweeps of {SWEEP}s + "
        f"{RECONNECT_SLACK}s reconnect{f' + grace {GRACE}s' if restarts else ''}); all {MESSAGES} delivered "
        f"{finished:.1f}s after the start; worker restarted {restarts} times (exit codes "
        f"{supervisor.exit_codes if supervisor else []}); beat missed the broker {beat.errors if beat else 0} times"
    )
    assert lost, "nothing was in flight when Redis went away"
    assert recovered <= bound
    assert set(per_token) == {d.token for d in deliveries} and max(per_token.values()) == 1
    assert len(sent) == MESSAGES
