"""A provider's "sent" / "delivered" applied in one statement on PostgreSQL (issue 16 §1).

Most status callbacks that change a delivery are its ``delivered`` (or a ``sent`` the write-back
has not recorded yet). Through the ORM that was ``BEGIN``, the compare-and-set, closing the attempt,
the event's ``INSERT`` and ``COMMIT``: five round trips and as many compiled queries. Here the same
steps are data-modifying CTEs of one statement, which PostgreSQL runs atomically: the delivery row
moves by compare-and-set (status and provider id as the caller read them), its open attempt closes,
and the event is stored as applied — in that order, so locks are taken delivery → attempt as
everywhere else (README › Failure handling). A duplicate event (same provider and event id) moves
nothing. When the compare-and-set does not match, nothing at all is written and the caller takes
the general path (:func:`messaging.outcomes.delivery_apply_status`), which reads the row again.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection

from messaging.models import Attempt, Delivery, ProviderEvent, Status

_FIELDS = {
    Status.SENT: "sent_at = %(now)s",
    Status.DELIVERED: (
        "delivered_at = %(now)s, finished_at = %(now)s, lease_expires_at = NULL, next_attempt_at = NULL, "
        "bounce_category = '', hard_bounce = NULL"
    ),
}


def usable(status: str) -> bool:
    return connection.vendor == "postgresql" and status in _FIELDS


def apply_progress(
    delivery: Delivery,
    *,
    status: str,
    provider_message_id: str,
    provider: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> bool:
    """Move ``delivery`` (as read) forward to ``status`` and store the event; False when nothing was
    written (the row changed meanwhile, or the event is a duplicate)."""
    quote = connection.ops.quote_name
    deliveries = quote(Delivery._meta.db_table)
    attempts = quote(Attempt._meta.db_table)
    events = quote(ProviderEvent._meta.db_table)
    set_id = ", provider_message_id = %(new_id)s" if provider_message_id and not delivery.provider_message_id else ""
    # Only model table names and the fixed field lists above are interpolated; values are parameters.
    sql = (
        f"WITH dup AS (SELECT 1 FROM {events} WHERE provider = %(provider)s AND event_id = %(event_id)s), "  # noqa: S608
        f"moved AS (UPDATE {deliveries} d SET status = %(status)s, updated_at = %(now)s, {_FIELDS[status]}{set_id} "
        "WHERE d.id = %(id)s AND d.status = %(was)s AND d.provider_message_id = %(was_id)s "
        "AND NOT EXISTS (SELECT 1 FROM dup) RETURNING d.id, d.attempt_count), "
        f"closed AS (UPDATE {attempts} a SET outcome = %(status)s, finished_at = %(now)s FROM moved "
        "WHERE a.delivery_id = moved.id AND a.number = moved.attempt_count RETURNING a.id), "
        f"stored AS (INSERT INTO {events} (delivery_id, provider, event_id, event_type, status, payload, "
        "received_at, applied) SELECT moved.id, %(provider)s, %(event_id)s, %(event_type)s, %(status)s, "
        "%(payload)s::jsonb, %(now)s, true FROM moved ON CONFLICT (provider, event_id) DO NOTHING RETURNING id) "
        "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM closed), (SELECT count(*) FROM stored)"
    )
    params = {
        "provider": provider[:32],
        "event_id": event_id[:200],
        "event_type": event_type[:64],
        "status": str(status),
        "now": connection.ops.adapt_datetimefield_value(now),
        "new_id": provider_message_id[:128],
        "id": delivery.pk,
        "was": str(delivery.status),
        "was_id": delivery.provider_message_id,
        "payload": json.dumps(payload),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        moved, _closed, _stored = cursor.fetchone()
    return bool(moved)


def store_unapplied(
    *,
    delivery_id: int,
    status: str,
    provider: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    """An event that changes nothing, kept: one ``INSERT … ON CONFLICT DO NOTHING`` in autocommit (the
    ORM's ``bulk_create`` adds ``BEGIN`` and ``COMMIT`` round trips); a duplicate stays the first one."""
    events = connection.ops.quote_name(ProviderEvent._meta.db_table)
    # Only the model's table name is interpolated; values are parameters.
    sql = (
        f"INSERT INTO {events} (delivery_id, provider, event_id, event_type, status, payload, received_at, applied) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, false) ON CONFLICT (provider, event_id) DO NOTHING"
    )
    params = [
        delivery_id, provider[:32], event_id[:200], event_type[:64], str(status)[:32],
        json.dumps(payload), connection.ops.adapt_datetimefield_value(now),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
