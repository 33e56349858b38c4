"""Every database connection is terminated mid-broadcast, twice (issue 17, scenario 2).

A broadcast of texts goes out through a real worker; this process plays beat (``messaging.sweep``
and ``messaging.reconcile``) and serves the Twilio simulator's callbacks on the live server. At a
quarter of the broadcast every other connection to the test database — the worker's and the live
server's — is ended with ``pg_terminate_backend``, and again 3 s later. What happens:

* the worker survives (a failed task is not a crash), and every new task and request gets a new
  connection (``CONN_HEALTH_CHECKS`` drops a dead persistent one before use);
* a write-back whose connection died is written again on a new one
  (``messaging.dispatch.writeback._write_back_retrying``), so a message the provider accepted is
  not sent a second time after the restart grace;
* a status callback that hit a dead connection is answered 500; Twilio does not retry a status
  callback, so reconciliation asks Twilio for the message after ``RECONCILE_AFTER_SECONDS``.

Asserted: every delivery ends delivered, the simulator received each message exactly once, no
worker restart was needed. Printed: connections ended, callbacks answered 5xx, deliveries settled
by reconciliation, the time from the first termination to the last delivery.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest -s tests/integration/test_faults_database.py``
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.integration.support import Beat, Supervisor, wait_for
from tests.integration.test_dispatch_worker import bulk_deliveries, make_workers, statuses

BROKER = os.environ.get("DISPATCH_TEST_BROKER", "redis://127.0.0.1:6379/4")
MESSAGES = int(2000 * float(os.environ.get("PIMSY_FAULTS_SCALE", "0.5")))
RECONCILE_AFTER = 8

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def terminate_other_connections() -> int:
    """End every other backend connected to this database; how many were ended."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_connections_terminated_mid_broadcast_nothing_lost_nothing_twice(
    services: None, tmp_path: Path, clock_file: str, twilio: Any, live_server: Any, settings: Any
) -> None:
    from messaging.models import ProviderEvent

    settings.PUBLIC_BASE_URL = live_server.url
    workers = make_workers(
        tmp_path, clock_file, live_server.url, TWILIO_API_BASE=twilio.url,
        RECONCILE_AFTER_SECONDS=str(RECONCILE_AFTER), DB_CONN_HEALTH_CHECKS="1",
    )  # fmt: skip
    broadcast, deliveries = bulk_deliveries([f"+1617555{n:04d}" for n in range(2000, 2000 + MESSAGES)])
    beat = supervisor = None
    ended: list[int] = []
    try:
        supervisor = Supervisor(workers.start)
        beat = Beat(BROKER, {"messaging.sweep": 0.5, "messaging.reconcile": 2.0})
        wait_for(lambda: statuses(broadcast)["delivered"] + statuses(broadcast)["sent"] >= MESSAGES // 4,
                 timeout=60, what="a quarter of the broadcast to go out")  # fmt: skip
        at_fault = statuses(broadcast)
        first = time.monotonic()
        ended.append(terminate_other_connections())
        time.sleep(3)
        ended.append(terminate_other_connections())
        wait_for(lambda: statuses(broadcast)["delivered"] == MESSAGES, timeout=90,
                 what=f"every delivery delivered (connections ended at {dict(at_fault)})")  # fmt: skip
        recovered = time.monotonic() - first
    except AssertionError:
        print(workers.log_tail())
        print(statuses(broadcast))
        raise
    finally:
        if beat is not None:
            beat.stop()
        if supervisor is not None:
            supervisor.stop()
        workers.stop_all()

    sent = [r for r in twilio.received() if r.get("kind") == "sms" and r.get("accepted")]
    answers = collections.Counter(c.get("http_status") for r in sent for c in r.get("callbacks", []))
    reconciled = ProviderEvent.objects.filter(
        delivery__broadcast=broadcast, payload__source="reconciliation", applied=True
    ).count()
    restarted = sum(1 for d in broadcast.deliveries.all() if d.attempt_count > 1)
    print(
        f"\ndatabase connections ended: {ended} (twice, 3 s apart) at {dict(at_fault)}; all {MESSAGES} delivered "
        f"{recovered:.1f}s after the first; callback answers {dict(answers)}; {reconciled} deliveries settled by "
        f"reconciliation; {restarted} deliveries restarted; worker restarts {supervisor.restarts if supervisor else 0}"
    )
    per_token = collections.Counter(urlsplit(r["status_callback"]).path.split("/")[4] for r in sent)
    assert set(per_token) == {d.token for d in deliveries} and max(per_token.values()) == 1
    assert len(sent) == MESSAGES
    assert supervisor is not None and supervisor.restarts == 0, supervisor.exit_codes
    assert ended[0] > 0
