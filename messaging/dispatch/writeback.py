"""Writing back what the provider accepted, in groups (:class:`_Results`).

After each send the outcome is written back with conditional updates, in groups: one commit per
``DISPATCH_WRITE_BACK_ROWS`` results or ``DISPATCH_WRITE_BACK_MS``, and at the end of the batch.
Each delivery is compare-and-set (still ours and ``sending``) and its attempt recorded in the same
commit; a delivery a provider callback settled first keeps its status and only gains the provider
id. On PostgreSQL a whole group is one statement (:func:`_write_back_postgresql`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from messaging.models import Attempt, Delivery, Status

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Accepted:
    """What the provider accepted: the delivery's and its attempt's new values, not yet written."""

    pk: int
    run: str
    attempt_pk: int
    delivery_fields: dict[str, Any]
    attempt_fields: dict[str, Any]


class _Results:
    """Accepted sends of a task, written back in groups: one commit per group, not per message.

    A write per message was a third of a sending thread's time (a round trip and a WAL flush each,
    while the next provider call waited). A group is written when it holds
    ``DISPATCH_WRITE_BACK_ROWS`` results, when its oldest result is ``DISPATCH_WRITE_BACK_MS`` old,
    and always at the end of a batch (also when the batch fails).

    Until a group is written only the provider knows its messages were accepted. If the worker
    dies then, the provider's status callback (it carries the delivery's token) settles the row,
    and the restart rules wait ``DISPATCH_RESTART_GRACE_SECONDS`` for it before sending again.
    """

    def __init__(self) -> None:
        self.pending: list[_Accepted] = []
        self.oldest = 0.0
        self.rows = max(1, int(settings.DISPATCH_WRITE_BACK_ROWS))
        self.wait_seconds = max(0.0, float(settings.DISPATCH_WRITE_BACK_MS)) / 1000

    def add(self, accepted: _Accepted) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append(accepted)
        if len(self.pending) >= self.rows or time.monotonic() - self.oldest >= self.wait_seconds:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            group, self.pending = self.pending, []
            _write_back_retrying(group)


# Waits before writing a group again after the database connection failed (issue 17).
_RETRY_DELAYS = (0.2, 1.0, 3.0)


def _write_back_retrying(group: Sequence[_Accepted]) -> None:
    """:func:`_write_back`, again on a new connection when the database dropped this one.

    Only the provider and this group know its messages were accepted: lost, they would be
    restarted after the grace and sent twice unless every callback arrived. A connection the
    server terminated (a PostgreSQL restart, ``pg_terminate_backend``), or a deadlock, fails the
    statement; the write-back is idempotent (compare-and-set on ``sending``), so it is simply
    written again on a fresh connection, up to ``len(_RETRY_DELAYS)`` more times (about 4 s).
    Inside a caller's transaction nothing can be retried: the error goes up.
    """
    for delay in (*_RETRY_DELAYS, None):
        try:
            _write_back(group)
            return
        except (OperationalError, InterfaceError) as exc:
            if delay is None or connection.in_atomic_block:
                raise
            logger.warning("write-back of %s results failed (%s); retrying on a new connection", len(group), exc)
            connection.close()
            time.sleep(delay)


def _write_back(group: Sequence[_Accepted]) -> None:
    """Compare-and-set each delivery (still ours and sending) and record its attempt, in one commit.

    A delivery a provider callback settled first (the callback carries its token) keeps its
    status and only gains the provider id. On PostgreSQL the whole group is one statement
    (:func:`_write_back_postgresql`); elsewhere the statements are keyed by primary key and sent
    with ``executemany``.
    """
    if connection.vendor == "postgresql":
        _write_back_postgresql(group)
        return
    where = "id = %s AND status = %s AND claimed_by = %s"
    delivery_sql, _ = _update_sql(Delivery, group[0].delivery_fields, where)
    attempt_sql, _ = _update_sql(Attempt, group[0].attempt_fields, "id = %s")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            delivery_sql,
            [[*_prepared(Delivery, row.delivery_fields), row.pk, Status.SENDING.value, row.run] for row in group],
        )
        moved = cursor.rowcount
        cursor.executemany(attempt_sql, [[*_prepared(Attempt, row.attempt_fields), row.attempt_pk] for row in group])
        if moved != len(group):
            cursor.executemany(
                f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} SET provider_message_id = %s "  # noqa: S608
                "WHERE id = %s AND claimed_by = %s AND provider_message_id = ''",
                [[row.delivery_fields["provider_message_id"], row.pk, row.run] for row in group],
            )


def _write_back_postgresql(group: Sequence[_Accepted]) -> None:
    """:func:`_write_back` as one statement that commits on its own (:func:`_postgresql_statement`)."""
    sql, params = _postgresql_statement(group)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _postgresql_statement(group: Sequence[_Accepted]) -> tuple[str, list[Any]]:
    """:func:`_write_back` as one statement that commits on its own: the group's values travel as
    arrays, two data-modifying CTEs update the deliveries and their attempts.

    One round trip instead of a transaction of pipelined statements (``BEGIN``, two
    ``executemany``, ``COMMIT``): on a busy machine every round trip waits for the server process
    to be scheduled, and those waits were most of a write-back's time (bench/README.md). The rows
    are found through ``id = ANY(…)`` so that the plan is a primary-key look-up whatever the
    statistics say about the joined array.

    Lock order (issue 17): a provider callback locks its delivery, then its attempt
    (:func:`messaging.outcomes.delivery_apply_status`). This statement does the same: ``locked``
    takes the group's delivery rows ``ORDER BY id FOR NO KEY UPDATE`` (the lock an ``UPDATE`` takes:
    it waits for a callback's update, not for an event row's foreign-key check) — every writer of
    several deliveries locks them in ascending id —, then the deliveries are updated, and only then
    the attempts. Each
    step waits for the one before through a one-time filter on ``(SELECT count(*) FROM <cte>)``,
    which runs that CTE to completion before the step reads a row (a join would not: a hash join
    skips its other side when one side is empty, and the locks with it). Before, the deliveries'
    CTE was not referenced, and such a CTE runs *after* the main query: the attempts were locked
    before the deliveries, the opposite of a callback, and the two deadlocked.
    """
    quote = connection.ops.quote_name
    deliveries, attempts = quote(Delivery._meta.db_table), quote(Attempt._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    encode = Attempt._meta.get_field("response").encoder
    sending = Status.SENDING.value
    columns: dict[str, list[Any]] = {
        "id": [row.pk for row in group],
        "run": [row.run for row in group],
        "attempt": [row.attempt_pk for row in group],
        "status": [row.delivery_fields["status"] for row in group],
        "provider_id": [row.delivery_fields["provider_message_id"] for row in group],
        "at": [adapt(row.delivery_fields["sent_at"]) for row in group],
        "request": [json.dumps(row.attempt_fields["request_summary"], cls=encode) for row in group],
        "response": [json.dumps(row.attempt_fields["response"], cls=encode) for row in group],
    }
    # A row still ours and sending takes the result; one a callback settled first keeps its status
    # and only gains the provider id. The columns set here are the ones _send fills in
    # delivery_fields / attempt_fields: a field added there must be added here too (the executemany
    # path picks it up by itself). Only model table names are interpolated; values are parameters.
    sql = (
        "WITH v AS MATERIALIZED (SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], "  # noqa: S608
        "%s::varchar[], %s::varchar[], %s::timestamptz[], %s::jsonb[], %s::jsonb[]) "
        "AS v(id, run, attempt, status, provider_id, at, request, response)), "
        f"locked AS MATERIALIZED (SELECT id FROM {deliveries} WHERE id = ANY(%s::bigint[]) "
        "ORDER BY id FOR NO KEY UPDATE), "
        f"d AS (UPDATE {deliveries} d SET provider_message_id = v.provider_id, "
        "status = CASE WHEN d.status = %s THEN v.status ELSE d.status END, "
        "sent_at = CASE WHEN d.status = %s THEN v.at ELSE d.sent_at END, "
        "lease_expires_at = CASE WHEN d.status = %s THEN NULL ELSE d.lease_expires_at END, "
        "status_reason = CASE WHEN d.status = %s THEN '' ELSE d.status_reason END, "
        "updated_at = CASE WHEN d.status = %s THEN v.at ELSE d.updated_at END "
        "FROM v WHERE (SELECT count(*) FROM locked) >= 0 AND d.id = ANY(%s::bigint[]) AND d.id = v.id "
        "AND d.claimed_by = v.run AND (d.status = %s OR d.provider_message_id = '') RETURNING d.id) "
        f"UPDATE {attempts} a SET finished_at = v.at, provider_message_id = v.provider_id, "
        "request_summary = v.request, response = v.response, outcome = 'accepted' "
        "FROM v WHERE (SELECT count(*) FROM d) >= 0 AND a.id = ANY(%s::bigint[]) AND a.id = v.attempt"
    )
    ids = sorted(columns["id"])
    return sql, [*columns.values(), ids, *[sending] * 5, ids, sending, columns["attempt"]]


def _prepared(model: type[Any], values: dict[str, Any]) -> list[Any]:
    meta = model._meta
    return [meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]


def _update_sql(model: type[Any], values: dict[str, Any], where: str) -> tuple[str, list[Any]]:
    """A plain ``UPDATE … SET … WHERE`` and its value parameters (each field adapts its value);
    ``where`` names columns and uses placeholders only. The ORM's expression machinery costs more
    CPU than the round trip for the statements every send makes."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [f"{quote(meta.get_field(name).column)} = %s" for name in values]
    return f"UPDATE {quote(meta.db_table)} SET {', '.join(columns)} WHERE {where}", _prepared(model, values)  # noqa: S608
