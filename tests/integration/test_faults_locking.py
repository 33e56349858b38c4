"""Write-backs and provider callbacks on the same deliveries never deadlock (issue 17, scenario 2).

A worker writes back what the provider accepted in groups (one statement per group,
``messaging.dispatch.writeback._write_back_postgresql``) while the provider's status callbacks for
the same messages arrive (``messaging.outcomes.delivery_apply_status``). Both lock the delivery
row first, then its attempt, and a group takes its deliveries in ascending id; so however the
groups and the callbacks interleave, PostgreSQL never has to break a deadlock.

Three write-back threads send overlapping groups of the same 300 deliveries, in shuffled order,
while four callback threads apply "sent" and "delivered" events to them, also shuffled: every
statement succeeds, every delivery ends delivered with its provider id, every attempt is closed.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest tests/integration/test_faults_locking.py``
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections

from tests.fixtures import need
from tests.integration.test_dispatch_worker import bulk_deliveries

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROWS = 300
GROUP = 50
RUN = "faults-run"


def _prepare(count: int) -> list[Any]:
    """``count`` deliveries out for sending under one claim, each with its open first attempt."""
    from core import clock
    from messaging.models import Attempt, Delivery, Status

    _, deliveries = bulk_deliveries([f"+1617555{n:04d}" for n in range(count)])
    now = clock.now()
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        status=Status.SENDING, claimed_by=RUN, attempt_count=1, lease_expires_at=now, next_attempt_at=None
    )
    Attempt.objects.bulk_create([Attempt(delivery=d, number=1, started_at=now) for d in deliveries])
    return deliveries


def _sid(pk: int) -> str:
    return f"SM{pk:032x}"


def _accepted(pk: int, attempt_pk: int) -> Any:
    from core import clock
    from messaging.dispatch.writeback import _Accepted

    now = clock.now()
    return _Accepted(
        pk,
        RUN,
        attempt_pk,
        {"status": "sent", "provider_message_id": _sid(pk), "sent_at": now, "lease_expires_at": None,
         "status_reason": "", "updated_at": now},
        {"finished_at": now, "provider_message_id": _sid(pk), "request_summary": {"to": "…"},
         "response": {"sid": _sid(pk)}, "outcome": "accepted"},
    )  # fmt: skip


class _Errors:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[str] = []

    def add(self, exc: BaseException) -> None:
        with self.lock:
            self.items.append(f"{type(exc).__name__}: {exc}"[:300])


def _threaded(target: Any, errors: _Errors, *args: Any) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        except Exception as exc:  # every failure is reported by the test, not lost in a thread
            errors.add(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_concurrent_write_backs_and_callbacks_on_the_same_rows_never_deadlock(services: None) -> None:
    from messaging.dispatch.writeback import _write_back_postgresql
    from messaging.models import Attempt, Delivery
    from messaging.outcomes import delivery_apply_status

    deliveries = _prepare(ROWS)
    attempts = dict(Attempt.objects.filter(delivery__in=deliveries).values_list("delivery_id", "pk"))
    errors = _Errors()
    counts = {"write_backs": 0, "callbacks": 0}
    counted = threading.Lock()

    def write_backs(seed: int) -> None:
        rows = [_accepted(d.pk, attempts[d.pk]) for d in deliveries]
        random.Random(seed).shuffle(rows)
        for start in range(0, len(rows), GROUP):
            try:
                _write_back_postgresql(rows[start : start + GROUP])
            except OperationalError as exc:
                errors.add(exc)
            with counted:
                counts["write_backs"] += 1

    def callbacks(seed: int) -> None:
        events = [(d.pk, status) for d in deliveries for status in ("sent", "delivered")]
        random.Random(seed).shuffle(events)
        for pk, status in events:
            try:
                delivery_apply_status(
                    delivery_id=pk,
                    status=status,
                    provider="twilio",
                    event_id=f"{_sid(pk)}:{status}:{seed}",
                    event_type=f"sms-{status}",
                    provider_message_id=_sid(pk),
                )
            except OperationalError as exc:
                errors.add(exc)
            with counted:
                counts["callbacks"] += 1

    started = time.monotonic()
    threads = [_threaded(write_backs, errors, seed) for seed in range(3)]
    threads += [_threaded(callbacks, errors, seed) for seed in range(10, 14)]
    for thread in threads:
        thread.join(timeout=90)
    elapsed = time.monotonic() - started
    print(
        f"\nlocking: {counts['write_backs']} write-back groups and {counts['callbacks']} callbacks "
        f"on {ROWS} rows in {elapsed:.1f}s; errors: {len(errors.items)}"
    )
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors.items == [], errors.items[:5]
    assert counts == {"write_backs": 3 * ROWS // GROUP, "callbacks": 4 * 2 * ROWS}
    final = set(Delivery.objects.filter(pk__in=attempts).values_list("status", "provider_message_id"))
    assert {status for status, _ in final} == {"delivered"} and all(final_id for _, final_id in final)
    assert not Attempt.objects.filter(pk__in=attempts.values(), finished_at__isnull=True).exists()


def test_the_write_back_locks_deliveries_in_id_order_before_any_attempt(services: None) -> None:
    """The plan itself: the attempts are updated under a one-time filter that runs the deliveries'
    update first, and that update waits for the id-ordered ``FOR NO KEY UPDATE`` of the group."""
    from messaging.dispatch.writeback import _postgresql_statement
    from messaging.models import Attempt

    deliveries = _prepare(3)
    attempts = dict(Attempt.objects.filter(delivery__in=deliveries).values_list("delivery_id", "pk"))
    sql, params = _postgresql_statement([_accepted(d.pk, attempts[d.pk]) for d in reversed(deliveries)])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ORDER BY id FOR NO KEY UPDATE" in sql
    assert plan.count("One-Time Filter") == 2 and "LockRows" in plan, plan
    assert params[8] == sorted(d.pk for d in deliveries)


@pytest.fixture
def services() -> None:
    need(settings.IS_POSTGRES, "integration tests need PostgreSQL (DATABASE_URL=postgres://…)")
