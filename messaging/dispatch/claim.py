"""Claiming due deliveries, and restarting the unfinished jobs of workers that died.

1. **Sweep** (:func:`sweep_due`, on Celery beat every ``DISPATCH_SWEEP_SECONDS`` and kicked after
   Send): restart unfinished jobs (below), then claim due ``queued`` rows per channel in chunks —
   one ``UPDATE`` of the rows a ``SELECT … FOR UPDATE SKIP LOCKED`` returns on PostgreSQL, a
   conditional ``UPDATE`` in an immediate transaction on SQLite — setting
   ``status='sending'``, a claim token (``claimed_by``) and a lease. How much is claimed per sweep
   follows the channel's rate, so leases stay meaningful and stop times are judged fresh. Each
   claim goes out as a ``messaging.send_batch`` task (:func:`enqueue`).
2. **Restart unfinished jobs** (:func:`restart_unfinished`): a row still ``sending`` after its
   lease expired belonged to a worker that died. If the provider already accepted it (a provider
   id is recorded) it is not resent. A claim whose attempt never started is simply queued again.
   An interrupted attempt waits ``DISPATCH_RESTART_GRACE_SECONDS`` more (the provider's callback
   may still arrive and settle it), then is restarted — or, when the channel's "Restart unfinished
   Job" setting is off (259 fax, 271 voice; SMS and e-mail always restart), marked failed with the
   reason.

The Celery tasks (``messaging.tasks``) call this package; this package finds them by their
registered names and never imports that module.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.db import connection, transaction

from core import clock
from messaging import outcomes, ratelimit
from messaging.channels.registry import spec_for
from messaging.dispatch import outages
from messaging.dispatch.ambiguous import ADOPTED, Asker, adopted_fields
from messaging.models import Attempt, Channel, Delivery, Status

logger = logging.getLogger("messaging.dispatch")  # one logger for the package, as before the split

# The names ``messaging.tasks`` registers its tasks under.
SWEEP_TASK = "messaging.sweep"
SEND_BATCH_TASK = "messaging.send_batch"


# --- configuration ----------------------------------------------------------------------------------


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


def restart_grace() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DISPATCH_RESTART_GRACE_SECONDS)


def batch_size(channel: str) -> int:
    """Deliveries per send task: small, and one for slow channels (a call a second)."""
    size = int(getattr(settings, "DISPATCH_BATCH_SIZE", 10))
    rate = ratelimit.rate_for(channel)
    return max(1, min(size, math.ceil(rate))) if rate else max(1, size)


def backlog_target(channel: str) -> int:
    """How many rows of a channel may be out for sending at once (claimed, not yet finished)."""
    rate = ratelimit.rate_for(channel)
    if not rate:
        return settings.DISPATCH_CHUNK_SIZE
    return max(batch_size(channel), math.ceil(rate * max(1.0, settings.DISPATCH_SWEEP_SECONDS) * 1.5))


def new_claim_token() -> str:
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{secrets.token_hex(8)}"


# --- kicking and sweeping ---------------------------------------------------------------------------


def _task(name: str) -> Task:
    """The Celery task registered as ``name``, looked up by name: ``messaging.tasks`` imports this
    package, not the other way round. A process that has not loaded the task modules yet (a web
    server kicking the sweeper) runs Celery's autodiscovery once, as a worker does when it starts.
    The task's own ``apply_async`` keeps its options (and ``task_always_eager``)."""
    app = current_app
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)
    return app.tasks[name]


def kick_sweeper() -> None:
    """Ask a worker to look for due deliveries now (called with transaction.on_commit).

    A broker that is down is not an error for the caller: the beat sweep finds the work anyway.
    """
    sweep = _task(SWEEP_TASK)
    try:
        sweep.apply_async(ignore_result=True)
    except Exception:  # kombu raises many types for an unreachable broker
        logger.warning("could not kick the sweeper; the periodic sweep will pick the work up", exc_info=True)


@dataclass(frozen=True)
class Claim:
    channel: str
    token: str
    ids: tuple[int, ...]


def sweep_due(now: dt.datetime | None = None) -> int:
    """Restart unfinished jobs, claim due deliveries and enqueue their send tasks; returns rows claimed."""
    now = now or clock.now()
    restart_unfinished(now=now)
    claims = claim_due(now=now)
    for claim in claims:
        enqueue(claim)
    return sum(len(claim.ids) for claim in claims)


def enqueue(claim: Claim) -> None:
    _task(SEND_BATCH_TASK).apply_async(args=[list(claim.ids), claim.token], ignore_result=True)


def claim_due(*, now: dt.datetime, channels: Iterable[str] = Channel.values) -> list[Claim]:
    """Claim due queued rows of each channel, up to what the channel can send before the next sweep."""
    claims: list[Claim] = []
    for channel in channels:
        probe = outages.claim_limit(channel, now=now)  # a provider outage: nothing, or one probe
        if probe is not None:
            claims.extend(claim_batch(channel=channel, now=now, limit=probe, batch=1))
            continue
        room = backlog_target(channel) - _out_for_sending(channel)
        while room > 0:
            got = claim_batch(channel=channel, now=now, limit=min(room, settings.DISPATCH_CHUNK_SIZE))
            claims.extend(got)
            count = sum(len(c.ids) for c in got)
            room -= count
            if count < min(room + count, settings.DISPATCH_CHUNK_SIZE):
                break
    return claims


def _out_for_sending(channel: str) -> int:
    return Delivery.objects.filter(status=Status.SENDING, channel=channel).count()


def claim_batch(*, channel: str, now: dt.datetime, limit: int, batch: int | None = None) -> list[Claim]:
    """Claim up to ``limit`` due rows of ``channel`` (compare-and-set), split into send batches."""
    if limit <= 0:
        return []
    token = new_claim_token()
    if connection.features.has_select_for_update_skip_locked:
        ids = _claim_skip_locked(channel=channel, now=now, limit=limit, token=token)
    else:
        due = Delivery.objects.filter(status=Status.QUEUED, channel=channel, next_attempt_at__lte=now)
        with transaction.atomic():
            ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
            # The IMMEDIATE transaction serialises writers; the status condition is the CAS.
            Delivery.objects.filter(pk__in=ids, status=Status.QUEUED).update(
                status=Status.SENDING, claimed_by=token, lease_expires_at=now + lease(), updated_at=now
            )
        ids = list(
            Delivery.objects.filter(pk__in=ids, claimed_by=token, status=Status.SENDING).values_list("id", flat=True)
        )
    if not ids:
        return []
    size = batch or batch_size(channel)
    return [Claim(channel, token, tuple(ids[i : i + size])) for i in range(0, len(ids), size)]


def _claim_skip_locked(*, channel: str, now: dt.datetime, limit: int, token: str) -> list[int]:
    """One statement (PostgreSQL): lock the oldest due rows other claimers have not locked, mark them
    ours and return their ids, oldest first."""
    table = connection.ops.quote_name(Delivery._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    # Only the table name (from the model) is interpolated; values are parameters.
    # ``id = ANY(ARRAY(…))``: the locked ids are collected first, then each row is found by primary
    # key (a join with the sub-select let stale statistics pick a nested scan of the queue).
    sql = (
        f"UPDATE {table} SET status = %s, claimed_by = %s, lease_expires_at = %s, updated_at = %s "  # noqa: S608
        f"WHERE id = ANY(ARRAY(SELECT id FROM {table} WHERE status = %s AND channel = %s AND next_attempt_at <= %s "
        "ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)) AND status = %s "
        "RETURNING id, next_attempt_at"
    )
    params = [
        Status.SENDING.value, token, adapt(now + lease()), adapt(now),
        Status.QUEUED.value, channel, adapt(now), limit, Status.QUEUED.value,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [pk for pk, _ in sorted(rows, key=lambda row: (row[1], row[0]))]


# --- restart of unfinished jobs -----------------------------------------------------------------------


def restart_unfinished(*, now: dt.datetime) -> int:
    """Settle rows left ``sending`` by a worker that died; returns how many were settled."""
    expired = (
        Delivery.objects.filter(status=Status.SENDING, lease_expires_at__lt=now)
        .order_by("lease_expires_at", "id")
        .values_list("id", "channel", "claimed_by", "provider_message_id", "attempt_count", "lease_expires_at")
    )
    settled = 0
    ask = Asker(paused=lambda channel: outages.paused(channel, now=now))
    for row in expired[: settings.DISPATCH_CHUNK_SIZE]:
        settled += _restart_one(*row, now=now, ask=ask)
    return settled


def _restart_one(
    pk: int,
    channel: str,
    token: str,
    provider_id: str,
    attempts: int,
    lease_end: dt.datetime,
    *,
    now: dt.datetime,
    ask: Asker | None = None,
) -> int:
    attempt = Attempt.objects.filter(delivery_id=pk, number=attempts).first() if attempts else None
    # No outcome (the worker died mid-send) or "unknown" (the provider's answer never came).
    interrupted = attempt is not None and attempt.outcome in ("", "unknown")
    accepted = provider_id or (attempt.provider_message_id if attempt is not None else "")
    # Compare-and-set on everything we read: a worker that starts the attempt meanwhile moves the
    # lease and the attempt count, and then this restart does nothing.
    mine = Delivery.objects.filter(
        pk=pk, status=Status.SENDING, claimed_by=token, lease_expires_at=lease_end, attempt_count=attempts
    )
    base: dict[str, Any] = {"lease_expires_at": None, "updated_at": now}
    if accepted:
        return mine.update(
            **base,
            status=Status.SENT,
            provider_message_id=accepted,
            sent_at=now,
            status_reason="Worker stopped after the provider accepted the message; not sent again",
        )
    if not interrupted:
        # Claimed but never started (the task was lost with its worker): simply due again.
        return mine.update(**base, status=Status.QUEUED, next_attempt_at=now, claimed_by="")
    if lease_end > now - restart_grace():
        return 0  # give the provider's callback time to arrive first
    ask = ask or Asker(paused=lambda channel: outages.paused(channel, now=now))
    if attempt is not None and ask.can_ask(channel):  # never a second message: ask the provider first
        found = ask(pk, channel, attempt)
        if found is None:
            return 0  # it cannot tell now: a later sweep asks again
        if found:
            Attempt.objects.filter(pk=attempt.pk).update(
                outcome="adopted",
                provider_message_id=found[:128],
                error_detail=f"{attempt.error_detail}; {ADOPTED}"[:500],
            )
            return mine.update(**base, **adopted_fields(found, now))
    Attempt.objects.filter(pk=attempt.pk, outcome="").update(outcome="interrupted", finished_at=now)
    if outcomes.retry_policy(channel).restart_unfinished:
        return mine.update(
            **base,
            status=Status.QUEUED,
            next_attempt_at=now,
            claimed_by="",
            retry_kind=Attempt.Kind.RESTART,
            status_reason="Restarted: the worker stopped while sending",
        )
    return mine.update(
        **base,
        status=Status.FAILED,
        finished_at=now,
        next_attempt_at=None,
        error_code="interrupted",
        status_reason=f"Interrupted while sending; {_restart_setting_label(channel)} is off, so it was not restarted",
    )


def _restart_setting_label(channel: str) -> str:
    number = spec_for(channel).restart_setting
    return f"setting {number} (Restart unfinished Job)" if number else "restarting"
