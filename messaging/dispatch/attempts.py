"""Starting attempts, and recording the errors of those that failed.

One ``UPDATE … RETURNING`` moves the claimed rows from the claim token to a token of this run
(compare-and-set: a task delivered twice, or two workers, get each row at most once), counts the
attempt and extends the lease, and the :class:`~messaging.models.Attempt` rows are written in the
same commit (one statement on PostgreSQL). A row over :func:`attempt_limit` fails instead. An error
from the provider (or found before any attempt) is settled here: the bounce policy for a refusal,
the restart rules for an outcome nobody knows, back-off for the rest.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from core import clock
from messaging import outcomes, ratelimit
from messaging.channels.base import TransportError
from messaging.dispatch import outages
from messaging.dispatch.checks import Verdict
from messaging.dispatch.claim import lease, new_claim_token
from messaging.models import Attempt, Delivery, Status

# A safety net against a delivery retried for ever (throttling, network errors): it fails after this
# many attempts more than the most its channel's redial / resend settings plan (README › Delivery rules).
MAX_ATTEMPTS = 25


def attempt_limit(channel: str) -> int:
    """Attempts a delivery on ``channel`` may make: 25 for a text; the planned sends × dials + 24."""
    return MAX_ATTEMPTS - 1 + outcomes.retry_policy(channel).most_attempts


def _worker_name() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class _Send:
    """One delivery of a batch on its way out: what it says, and its attempt once started."""

    delivery: Delivery
    verdict: Verdict
    rendered: Any = None
    attempt: Attempt | None = None
    content_id: int | None = None  # what it says, stored before the provider call (messaging.content)


def _mine(delivery: Delivery, token: str) -> Any:
    return Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claimed_by=token)


def _start_attempts(items: list[_Send], token: str, *, now: dt.datetime) -> str:
    """Take the claimed rows for this run and write their attempts; returns the run's token.

    One ``UPDATE … RETURNING`` moves each row from the claim token to a token of this run (so a
    task delivered twice and running at the same time gets each row at most once), counts the
    attempt and extends the lease; one ``INSERT`` writes the attempts. Sets ``item.attempt`` on
    the rows this run now owns.
    """
    run = new_claim_token()
    limit = attempt_limit(items[0].delivery.channel) if items else MAX_ATTEMPTS
    over = [item for item in items if item.delivery.attempt_count >= limit]
    for item in over:
        _mine(item.delivery, token).update(
            status=Status.FAILED,
            finished_at=now,
            lease_expires_at=None,
            next_attempt_at=None,
            error_code="attempts",
            status_reason=f"Gave up after {limit} attempts",
            updated_at=now,
        )
    items = [item for item in items if item.delivery.attempt_count < limit]
    if not items:
        return run
    if connection.vendor == "postgresql":
        _begin_attempts_postgresql(items, token, run, now=now)
        return run
    with transaction.atomic():  # the attempt count and the attempt rows commit together
        _begin_attempts(items, token, run, now=now)
    return run


def _begin_attempts_postgresql(items: list[_Send], token: str, run: str, *, now: dt.datetime) -> None:
    """:func:`_begin_attempts` as one statement: the compare-and-set ``UPDATE`` (with each row's
    current address) feeds the ``INSERT`` of the attempts through a data-modifying CTE, so both
    commit together in one round trip."""
    quote = connection.ops.quote_name
    deliveries, attempts = quote(Delivery._meta.db_table), quote(Attempt._meta.db_table)
    worker = _worker_name()[:64]
    adapt = connection.ops.adapt_datetimefield_value
    ids = [item.delivery.pk for item in items]
    kinds = [item.delivery.retry_kind or Attempt.Kind.FIRST for item in items]
    addresses = [item.verdict.address for item in items]
    contents = [item.content_id for item in items]
    # Only model table names are interpolated; values are parameters.
    sql = (
        f"WITH taken AS (UPDATE {deliveries} d SET claimed_by = %s, attempt_count = d.attempt_count + 1, "  # noqa: S608
        "lease_expires_at = %s, retry_kind = '', updated_at = %s, address = k.address, "
        "content_id = COALESCE(k.content, d.content_id) "
        "FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::bigint[]) AS k(id, kind, address, content) "
        "WHERE d.id = k.id AND d.status = %s AND d.claimed_by = %s RETURNING d.id, d.attempt_count, k.kind) "
        f"INSERT INTO {attempts} (delivery_id, number, kind, started_at, finished_at, worker, request_summary, "
        "provider_message_id, response, outcome, error_code, error_detail) "
        "SELECT id, attempt_count, kind, %s, NULL, %s, '{}', '', '{}', '', '', '' FROM taken "
        "RETURNING id, delivery_id, number"
    )
    params = [
        run,
        adapt(now + lease()),
        adapt(now),
        ids,
        kinds,
        addresses,
        contents,
        Status.SENDING.value,
        token,
        adapt(now),
        worker,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        started = {delivery_id: (pk, number) for pk, delivery_id, number in cursor.fetchall()}
    for item, kind in zip(items, kinds, strict=True):
        if item.delivery.pk not in started:
            continue  # another run owns it now
        pk, number = started[item.delivery.pk]
        delivery = item.delivery
        delivery.attempt_count, delivery.claimed_by, delivery.retry_kind = number, run, ""
        delivery.address = item.verdict.address
        if item.content_id is not None:
            delivery.content_id = item.content_id
        item.attempt = Attempt(pk=pk, delivery=delivery, number=number, kind=kind, started_at=now, worker=worker)
        item.attempt._state.adding = False
        item.attempt._state.db = connection.alias


def _begin_attempts(items: list[_Send], token: str, run: str, *, now: dt.datetime) -> None:
    numbers = _take_for_run({item.delivery.pk: item for item in items}, token, run, now=now)
    worker = _worker_name()[:64]
    started: list[Attempt] = []
    for item in items:
        number = numbers.get(item.delivery.pk)
        if number is None:
            continue  # another run owns it now
        delivery = item.delivery
        kind = delivery.retry_kind or Attempt.Kind.FIRST
        delivery.attempt_count, delivery.claimed_by, delivery.retry_kind = number, run, ""
        changed: dict[str, Any] = {}
        if item.verdict.address != delivery.address:
            changed["address"] = delivery.address = item.verdict.address
        if item.content_id is not None and item.content_id != delivery.content_id:
            changed["content_id"] = delivery.content_id = item.content_id
        if changed:
            Delivery.objects.filter(pk=delivery.pk).update(**changed)
        item.attempt = Attempt(delivery=delivery, number=number, kind=kind, started_at=now, worker=worker)
        started.append(item.attempt)
    Attempt.objects.bulk_create(started)


def _take_for_run(items: dict[int, _Send], token: str, run: str, *, now: dt.datetime) -> dict[int, int]:
    """The compare-and-set that starts attempts: {delivery id: its new attempt number}."""
    table = connection.ops.quote_name(Delivery._meta.db_table)
    ids = list(items)
    placeholders = ", ".join(["%s"] * len(ids))
    # Only the table name (from the model) and placeholders are interpolated; values are parameters.
    sql = (
        f"UPDATE {table} SET claimed_by = %s, attempt_count = attempt_count + 1, lease_expires_at = %s, "  # noqa: S608
        f"retry_kind = '', updated_at = %s WHERE status = %s AND claimed_by = %s AND id IN ({placeholders}) "
        "RETURNING id, attempt_count"
    )
    adapt = connection.ops.adapt_datetimefield_value
    params = [run, adapt(now + lease()), adapt(now), Status.SENDING.value, token, *ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(pk): int(number) for pk, number in cursor.fetchall()}


def _fail_unsent(delivery: Delivery, token: str, error: TransportError, *, now: dt.datetime) -> None:
    """A failure found before any attempt (our configuration): the bounce policy decides."""
    if error.classification is None:
        raise TypeError("a failure found before any attempt must carry its classification")
    outcomes.apply_failure(
        delivery,
        classification=error.classification,
        redial=False,
        now=now,
        expected={"status": Status.SENDING, "claimed_by": token},
        error_code=error.code,
        error_detail=error.message,
    )


def _record_error(delivery: Delivery, run: str, attempt: Attempt, error: TransportError) -> bool:
    """Record a failed attempt and settle its delivery; True when the failure paused the channel
    (its provider keeps failing: :mod:`messaging.dispatch.outages`)."""
    now = clock.now()
    kind = "throttled" if error.throttled else "unknown" if error.ambiguous else "error"
    if error.classification is not None:
        kind = "refused"
    Attempt.objects.filter(pk=attempt.pk).update(
        finished_at=now,
        outcome=kind,
        error_code=error.code[:32],
        error_detail=error.message[:500],
        response=error.response,
    )
    if error.classification is not None:
        outcomes.apply_failure(
            delivery,
            classification=error.classification,
            redial=error.redial,
            now=now,
            expected={"status": Status.SENDING, "claimed_by": run},
            error_code=error.code,
            error_detail=error.message,
        )
        return False
    paused = False
    if not error.throttled:  # a 5xx, a timeout, a refused connection: the provider is failing
        paused = outages.note_failure(delivery.channel, error.message, now=now).paused_at is not None
    if error.ambiguous:
        # Outcome unknown: after the grace period the provider is asked (messaging.dispatch.ambiguous).
        _mine(delivery, run).update(lease_expires_at=now, status_reason=error.message[:255], updated_at=now)
        return paused
    transient = Attempt.objects.filter(delivery_id=delivery.pk, outcome__in=("throttled", "error")).count()
    delay = ratelimit.backoff(transient, retry_after=error.retry_after)
    if error.throttled:
        ratelimit.penalize(delivery.channel, max(1.0, error.retry_after or 1.0))
    _mine(delivery, run).update(
        status=Status.QUEUED,
        next_attempt_at=now + dt.timedelta(seconds=delay),
        claimed_by="",
        lease_expires_at=None,
        error_code=error.code[:32],
        error_detail=error.message[:500],
        status_reason=f"{error.message}; retrying in {delay:.0f} s"[:255],
        updated_at=now,
    )
    return paused


def _put_back(item: _Send, run: str, *, now: dt.datetime, reason: str) -> None:
    """A started attempt that will not be made (its channel was paused meanwhile): the attempt row
    goes, the count goes back, and the delivery waits in the queue, due at once (the sweeper holds
    it while the channel is paused)."""
    if item.attempt is None:
        return
    with transaction.atomic():
        undone = Delivery.objects.filter(pk=item.delivery.pk, status=Status.SENDING, claimed_by=run).update(
            status=Status.QUEUED,
            attempt_count=F("attempt_count") - 1,
            next_attempt_at=now,
            claimed_by="",
            lease_expires_at=None,
            retry_kind=item.attempt.kind,
            status_reason=reason[:255],
            updated_at=now,
        )
        if undone:
            Attempt.objects.filter(pk=item.attempt.pk, outcome="").delete()
