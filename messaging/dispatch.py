"""The dispatcher: due deliveries are claimed from the database and sent by Celery workers.

The database is the schedule and the source of truth; Celery only carries small "send these
claimed ids" tasks, never a countdown or ETA.

1. **Sweep** (:func:`sweep_due`, on Celery beat every ``DISPATCH_SWEEP_SECONDS`` and kicked after
   Send): restart unfinished jobs (below), then claim due ``queued`` rows per channel in chunks —
   one ``UPDATE`` of the rows a ``SELECT … FOR UPDATE SKIP LOCKED`` returns on PostgreSQL, a
   conditional ``UPDATE`` in an immediate transaction on SQLite — setting
   ``status='sending'``, a claim token (``claimed_by``) and a lease. How much is claimed per sweep
   follows the channel's rate, so leases stay meaningful and stop times are judged fresh.
2. **Send** (:func:`send_claimed`, the ``messaging.send_batch`` task) a batch of claimed rows
   still ours: check again consent, the Do-Not-Send list, the address and the recipient's
   sending window (stop times), settling the rest without a provider call; reserve the batch's
   slots of the channel's shared rate; start the attempts — one ``UPDATE … RETURNING`` moves the
   rows from the claim token to a token of this run (compare-and-set: a task delivered twice, or
   two workers, get each row at most once), counts the attempt and extends the lease, and the
   :class:`~messaging.models.Attempt` rows are written in the same commit (one statement on
   PostgreSQL); then, per delivery, call the transport **outside any transaction** and write the
   results back with conditional updates, in groups (:class:`_Results`: one commit per
   ``DISPATCH_WRITE_BACK_ROWS`` results or ``DISPATCH_WRITE_BACK_MS``, and at the end of the
   batch). While a channel without a rate limit has a backlog, the task keeps claiming bigger
   batches for ``DISPATCH_SWEEP_SECONDS``, then hands the backlog over as a new task.
3. **Restart unfinished jobs**: a row still ``sending`` after its lease expired belonged to a worker
   that died. If the provider already accepted it (a provider id is recorded) it is not resent.
   A claim whose attempt never started is simply queued again. An interrupted attempt waits
   ``DISPATCH_RESTART_GRACE_SECONDS`` more (the provider's callback may still arrive and settle
   it), then is restarted — or, when the channel's "Restart unfinished Job" setting is off
   (259 fax, 271 voice; SMS and e-mail always restart), marked failed with the reason.

Stop times: settings 270 (voice), 272 (SMS), 273 (fax) end the day and ``DAY_START_TIME`` starts
it, in the recipient's time zone; e-mail has no window. Work outside the window is queued again
for the next window's start — never dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import secrets
import socket
import threading
import time
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction

from core import clock
from messaging import outcomes, ratelimit
from messaging.channels.base import Transport, TransportError, refusal, transport_for
from messaging.models import Attempt, Broadcast, Channel, Delivery, MessageTemplate, Status

logger = logging.getLogger(__name__)

STOP_TIME_SETTINGS = {Channel.VOICE: 270, Channel.SMS: 272, Channel.FAX: 273}
MAX_ATTEMPTS = 25
# A draining task on a channel without a rate limit claims this many send batches at once (100
# rows by default): each batch costs a few round trips whatever its size (claim, load, Do-Not-Send
# look-up, start, write-back; ~80 ms together on the busy benchmark machine), so during a backlog
# bigger batches cost less per message; the sweep's small batches spread the work. (5 -> 10 took
# bench_dispatch from 0.81-0.83 to 0.90-1.02 of the bare loop over 20,000 SMS.)
DRAIN_BATCH_FACTOR = 10
# What the checks and templates read, joined into the batch's query; the optional relations (most
# deliveries have no appointment or staff recipient) come from a second query only when present:
# a ten-table join took PostgreSQL longer to plan (~5 ms) than to run.
SEND_RELATED = ("broadcast", "message_type", "client__messaging", "client__messaging_contact")
SEND_PREFETCH = ("appointment__clinician", "user__staff_profile")


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


def _worker_name() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{threading.get_ident() % 100000}"


def new_claim_token() -> str:
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{secrets.token_hex(8)}"


# --- kicking and sweeping ---------------------------------------------------------------------------


def kick_sweeper() -> None:
    """Ask a worker to look for due deliveries now (called with transaction.on_commit).

    A broker that is down is not an error for the caller: the beat sweep finds the work anyway.
    """
    from messaging.tasks import sweep

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
    from messaging.tasks import send_batch

    send_batch.apply_async(args=[list(claim.ids), claim.token], ignore_result=True)


def claim_due(*, now: dt.datetime, channels: Iterable[str] = Channel.values) -> list[Claim]:
    """Claim due queued rows of each channel, up to what the channel can send before the next sweep."""
    claims: list[Claim] = []
    for channel in channels:
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
    for row in expired[: settings.DISPATCH_CHUNK_SIZE]:
        settled += _restart_one(*row, now=now)
    return settled


def _restart_one(
    pk: int, channel: str, token: str, provider_id: str, attempts: int, lease_end: dt.datetime, *, now: dt.datetime
) -> int:
    attempt = Attempt.objects.filter(delivery_id=pk, number=attempts).first() if attempts else None
    interrupted = attempt is not None and not attempt.outcome
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
    return {
        Channel.FAX: "setting 259 (Restart unfinished Job)",
        Channel.VOICE: "setting 271 (Restart unfinished Job)",
    }.get(channel, "restarting")


# --- stop times ---------------------------------------------------------------------------------------


def sending_window(channel: str) -> tuple[dt.time, dt.time] | None:
    """(start of day, stop time) for the channel, or None when it may send at any hour (e-mail)."""
    number = STOP_TIME_SETTINGS.get(channel)
    if number is None:
        return None
    from messaging.system_settings import get_setting

    stop = get_setting(number)
    assert isinstance(stop, dt.time)
    return dt.time.fromisoformat(settings.DAY_START_TIME), stop


def next_window_start(channel: str, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """None when ``now`` is inside the channel's window in ``zone``; else the next window's start (UTC)."""
    window = sending_window(channel)
    if window is None:
        return None
    start, stop = window
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    if start < stop:
        if start <= moment < stop:
            return None
        day = local.date() if moment < start else local.date() + dt.timedelta(days=1)
    else:  # a window across midnight (stop earlier than start)
        if moment >= start or moment < stop:
            return None
        day = local.date()
    return dt.datetime.combine(day, start, tzinfo=zone).astimezone(dt.UTC)


def recipient_zone(delivery: Delivery) -> zoneinfo.ZoneInfo:
    if delivery.client_id is not None:
        return delivery.client.zone
    profile = _related(delivery.user, "staff_profile") if delivery.user_id is not None else None
    if profile is not None:
        return profile.zone
    return clock.clinic_zone()


def _related(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return None


# --- checks at send time ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What to do with a claimed delivery now: send (to ``address``), suppress, cancel or defer."""

    action: str
    address: str = ""
    reason: str = ""
    category: str = ""
    at: dt.datetime | None = None


def resolve_address(delivery: Delivery) -> Verdict:
    """Consent, STOP and the address as they are now (they may have changed since Refresh)."""
    from clients.models import AppointmentStatus
    from clients.selectors import Reason, contact_address_for

    if delivery.broadcast.state == Broadcast.State.CANCELLED:
        return Verdict("cancel", reason="Broadcast cancelled")
    appointment = delivery.appointment
    if appointment is not None and appointment.status == AppointmentStatus.CANCELLED:
        return Verdict("cancel", reason="Appointment cancelled")
    address = delivery.address
    if delivery.client_id is not None:
        client = delivery.client
        if not client.is_active:
            return Verdict("suppress", reason=Reason.INACTIVE)
        from messaging.automation import hie_block_reason

        part2 = hie_block_reason(client=client, message_type=delivery.message_type)
        if part2:  # setting 490: never an HIE message to a 42 CFR Part 2 client
            return Verdict("suppress", reason=part2)
        choice = contact_address_for(client, delivery.channel)
        if not choice.ok:
            return Verdict("suppress", reason=choice.reason)
        address = choice.address
    if not address_is_valid(delivery.channel, address):
        return Verdict("suppress", reason=Reason.no_address(delivery.channel))
    return Verdict("send", address=address)


def address_is_valid(channel: str, address: str) -> bool:
    if not address:
        return False
    if channel == Channel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            return False
        return True
    import phonenumbers

    try:
        number = phonenumbers.parse(address, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def blocked_for(channel: str, verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """The Do-Not-Send entries blocking any of these addresses (one query)."""
    from bounces.selectors import blocked_addresses

    return blocked_addresses(channel, [v.address for v in verdicts if v.action == "send"])


def check_before_send(delivery: Delivery, verdict: Verdict, blocked: dict[str, Any], now: dt.datetime) -> Verdict:
    if verdict.action != "send":
        return verdict
    from bounces.selectors import normalise

    entry = blocked.get(normalise(delivery.channel, verdict.address))
    if entry is not None:
        category = "Domain DNS" if entry.is_domain else "DNS"
        return Verdict("suppress", reason=f"On the Do-Not-Send list: {entry.get_reason_display()}", category=category)
    later = next_window_start(delivery.channel, recipient_zone(delivery), now)
    if later is not None:
        window = sending_window(delivery.channel)
        assert window is not None
        reason = (
            f"Outside the sending window ({window[0]:%H:%M}–{window[1]:%H:%M} {recipient_zone(delivery).key}); "
            "waits for the next window"
        )
        return Verdict("defer", reason=reason, at=later)
    return verdict


# --- sending ------------------------------------------------------------------------------------------


def send_one(delivery_id: int, claim_token: str) -> int:
    """Send one claimed delivery (see :func:`send_claimed`)."""
    return send_claimed([delivery_id], claim_token)


def send_claimed(delivery_ids: Sequence[int], claim_token: str, *, drain_seconds: float = 0.0) -> int:
    """Send the claimed deliveries that are still ours; returns how many the provider accepted.

    With ``drain_seconds``, keep claiming and sending further due batches of the same channel
    for that long while the channel is not rate-bound (keeps workers busy between sweeps).

    Everything happens in the task's own thread. Doing the next batch's database work in a
    background thread of the worker process while this one talked to the provider was measured
    slower (bench/README.md): the two threads share the interpreter lock, and the provider
    calls waited for it.
    """
    started = time.monotonic()
    results = _Results()
    templates = _TemplateCache()  # read once per task: a drain lasts seconds
    total, hand_over = 0, ""
    batch = _load_batch(delivery_ids, claim_token, templates)
    try:
        while batch is not None:
            total, rate_bound = _send_batch(batch, results, total=total)
            if rate_bound or not drain_seconds:
                break
            if time.monotonic() - started >= drain_seconds:
                hand_over = batch.channel
                break
            batch = _claim_next(batch.channel, templates)
    finally:
        results.flush()  # what the provider accepted is recorded before the task ends
    if hand_over:
        _hand_over(hand_over)
    return total


def _drain_size(channel: str) -> int:
    """Rows a draining task claims at a time: a send batch, or DRAIN_BATCH_FACTOR of them when the
    channel has no rate limit."""
    return batch_size(channel) * (1 if ratelimit.rate_for(channel) else DRAIN_BATCH_FACTOR)


def _hand_over(channel: str) -> None:
    """A draining task that used up its time passes the backlog on as a new task at once (other
    work queued meanwhile goes first), instead of leaving the worker idle until the next sweep."""
    size = _drain_size(channel)
    for claim in claim_batch(channel=channel, now=clock.now(), limit=size, batch=size):
        try:
            enqueue(claim)
        except Exception:  # the broker is unreachable: give the rows back; the periodic sweep retries
            logger.warning("could not hand the backlog over; the periodic sweep will pick it up", exc_info=True)
            Delivery.objects.filter(pk__in=claim.ids, status=Status.SENDING, claimed_by=claim.token).update(
                status=Status.QUEUED, claimed_by="", lease_expires_at=None, updated_at=clock.now()
            )


@dataclass
class _Batch:
    """Claimed deliveries loaded and checked, ready to send (``ready``), under the claim ``token``."""

    channel: str
    token: str
    ready: list[_Send]


def _load_batch(delivery_ids: Sequence[int], token: str, templates: _TemplateCache) -> _Batch | None:
    """Load the claimed rows still ours, check each now and settle those that must not go out."""
    deliveries = list(
        Delivery.objects.filter(pk__in=list(delivery_ids), status=Status.SENDING, claimed_by=token)
        .select_related(*SEND_RELATED)
        .prefetch_related(*SEND_PREFETCH)
        .order_by("next_attempt_at", "id")
    )
    if not deliveries:
        return None
    return _Batch(deliveries[0].channel, token, _ready_to_send(deliveries, token, templates))


def _claim_next(channel: str, templates: _TemplateCache) -> _Batch | None:
    """Claim and load the channel's next due batch (a draining task's next round)."""
    size = _drain_size(channel)
    for claim in claim_batch(channel=channel, now=clock.now(), limit=size, batch=size):
        return _load_batch(claim.ids, claim.token, templates)
    return None


@dataclass
class _Send:
    """One delivery of a batch on its way out: what it says, and its attempt once started."""

    delivery: Delivery
    verdict: Verdict
    rendered: Any = None
    attempt: Attempt | None = None


def _send_batch(batch: _Batch, results: _Results, *, total: int = 0) -> tuple[int, bool]:
    """One rate reservation, the attempts started together, then each send in turn.

    Returns (total accepted so far, whether the channel's rate held the batch back)."""
    ready, channel, token = batch.ready, batch.channel, batch.token
    if not ready:
        return total, False
    reservation = ratelimit.acquire(channel, count=len(ready))
    now = clock.now()
    if not reservation.ok:
        at = now + dt.timedelta(seconds=reservation.retry_in)
        for item in ready:
            _requeue(item.delivery, token, at=at, reason="Waiting for the sending rate")
        return total, True
    if reservation.waited:
        ready = [item for item in ready if not _deferred_at_stop_time(item, token, now)]
    run = _start_attempts(ready, token, now=now)
    transport = transport_for(channel)
    accepted = 0
    try:
        with transport.session():
            for item in ready:
                if item.attempt is not None:
                    accepted += _send(item, run, transport, results)
    finally:
        results.flush()  # whatever happens next, what the provider accepted is recorded first
    return total + accepted, reservation.waited > 0


def _ready_to_send(deliveries: list[Delivery], token: str, templates: _TemplateCache) -> list[_Send]:
    """Check each claimed delivery now; settle those that must not go out; render the others."""
    verdicts = [resolve_address(d) for d in deliveries]
    blocked = blocked_for(deliveries[0].channel, verdicts)
    now = clock.now()
    ready: list[_Send] = []
    for delivery, verdict in zip(deliveries, verdicts, strict=True):
        verdict = check_before_send(delivery, verdict, blocked, now)
        if verdict.action != "send":
            _settle(delivery, token, verdict, now=now)
            continue
        try:
            rendered = _render(delivery, templates)
        except Exception:
            logger.exception("delivery %s: the template could not be rendered", delivery.pk)
            error = refusal("The message template could not be rendered", "Bad-Configuration", code="render", ours=True)
            _fail_unsent(delivery, token, error, now=now)
            continue
        ready.append(_Send(delivery, verdict, rendered))
    return ready


def _deferred_at_stop_time(item: _Send, token: str, now: dt.datetime) -> bool:
    """After waiting for the rate, the stop time may have come: defer instead of sending."""
    later = next_window_start(item.delivery.channel, recipient_zone(item.delivery), now)
    if later is None:
        return False
    _settle(item.delivery, token, Verdict("defer", reason="Stop time reached", at=later), now=now)
    return True


class _TemplateCache:
    """The message templates a task has read: once per task, not per batch (a template edited
    meanwhile applies from the next task, seconds later)."""

    def __init__(self) -> None:
        self._templates: dict[tuple[int, str], MessageTemplate | None] = {}

    def get(self, delivery: Delivery) -> MessageTemplate | None:
        key = (delivery.message_type_id, delivery.channel)
        if key not in self._templates:
            self._templates[key] = MessageTemplate.objects.filter(
                message_type_id=delivery.message_type_id, channel=delivery.channel
            ).first()
        return self._templates[key]


def _render(delivery: Delivery, templates: _TemplateCache) -> Any:
    from messaging.rendering import Rendered, delivery_context, render_for

    template = templates.get(delivery)
    if template is None:
        return Rendered()
    return render_for(template=template, context=delivery_context(delivery))


def _mine(delivery: Delivery, token: str) -> Any:
    return Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claimed_by=token)


def _settle(delivery: Delivery, token: str, verdict: Verdict, *, now: dt.datetime) -> bool:
    """Suppress, cancel or defer a claimed delivery without contacting the provider."""
    base: dict[str, Any] = {"lease_expires_at": None, "updated_at": now, "status_reason": verdict.reason[:255]}
    if verdict.action == "defer":
        assert verdict.at is not None
        return _requeue(delivery, token, at=verdict.at, reason=verdict.reason)
    if verdict.action == "suppress":
        fields = {**base, "status": Status.SUPPRESSED, "finished_at": now, "next_attempt_at": None}
        if verdict.category:
            fields.update(bounce_category=verdict.category, hard_bounce=True)
        return _mine(delivery, token).update(**fields) == 1
    return _mine(delivery, token).update(**base, status=Status.CANCELLED, finished_at=now, next_attempt_at=None) == 1


def _requeue(delivery: Delivery, token: str, *, at: dt.datetime, reason: str) -> bool:
    return (
        _mine(delivery, token).update(
            status=Status.QUEUED,
            next_attempt_at=at,
            claimed_by="",
            lease_expires_at=None,
            status_reason=reason[:255],
            updated_at=clock.now(),
        )
        == 1
    )


def _start_attempts(items: list[_Send], token: str, *, now: dt.datetime) -> str:
    """Take the claimed rows for this run and write their attempts; returns the run's token.

    One ``UPDATE … RETURNING`` moves each row from the claim token to a token of this run (so a
    task delivered twice and running at the same time gets each row at most once), counts the
    attempt and extends the lease; one ``INSERT`` writes the attempts. Sets ``item.attempt`` on
    the rows this run now owns.
    """
    run = new_claim_token()
    over = [item for item in items if item.delivery.attempt_count >= MAX_ATTEMPTS]
    for item in over:
        _mine(item.delivery, token).update(
            status=Status.FAILED,
            finished_at=now,
            lease_expires_at=None,
            next_attempt_at=None,
            error_code="attempts",
            status_reason=f"Gave up after {MAX_ATTEMPTS} attempts",
            updated_at=now,
        )
    items = [item for item in items if item.delivery.attempt_count < MAX_ATTEMPTS]
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
    # Only model table names are interpolated; values are parameters.
    sql = (
        f"WITH taken AS (UPDATE {deliveries} d SET claimed_by = %s, attempt_count = d.attempt_count + 1, "  # noqa: S608
        "lease_expires_at = %s, retry_kind = '', updated_at = %s, address = k.address "
        "FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[]) AS k(id, kind, address) "
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
        if item.verdict.address != delivery.address:
            Delivery.objects.filter(pk=delivery.pk).update(address=item.verdict.address)
            delivery.address = item.verdict.address
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


def _send(item: _Send, run: str, transport: Transport, results: _Results) -> bool:
    """Call the provider (no transaction is open) and hand the outcome to ``results`` to write back."""
    delivery, attempt = item.delivery, item.attempt
    assert attempt is not None
    try:
        result = transport.send(delivery, item.rendered)
    except TransportError as error:
        _record_error(delivery, run, attempt, error)
        return False
    except Exception:
        logger.exception("delivery %s: unexpected error while sending; it will be restarted", delivery.pk)
        _record_error(delivery, run, attempt, TransportError("Unexpected error while sending", ambiguous=True))
        return False
    now = clock.now()
    provider_id = result.provider_message_id[:128]
    delivery_fields = {
        "status": result.status,
        "provider_message_id": provider_id,
        "sent_at": now,
        "lease_expires_at": None,
        "status_reason": "",
        "updated_at": now,
    }
    attempt_fields = {
        "finished_at": now,
        "provider_message_id": provider_id,
        "request_summary": result.request,
        "response": result.response,
        "outcome": "accepted",
    }
    results.add(_Accepted(delivery.pk, run, attempt.pk, delivery_fields, attempt_fields))
    return True


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
            _write_back(group)


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
    """:func:`_write_back` as one statement that commits on its own: the group's values travel as
    arrays, two data-modifying CTEs update the deliveries and their attempts.

    One round trip instead of a transaction of pipelined statements (``BEGIN``, two
    ``executemany``, ``COMMIT``): on a busy machine every round trip waits for the server process
    to be scheduled, and those waits were most of a write-back's time (bench/README.md). The rows
    are found through ``id = ANY(…)`` so that the plan is a primary-key look-up whatever the
    statistics say about the joined array.
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
        f"d AS (UPDATE {deliveries} d SET provider_message_id = v.provider_id, "
        "status = CASE WHEN d.status = %s THEN v.status ELSE d.status END, "
        "sent_at = CASE WHEN d.status = %s THEN v.at ELSE d.sent_at END, "
        "lease_expires_at = CASE WHEN d.status = %s THEN NULL ELSE d.lease_expires_at END, "
        "status_reason = CASE WHEN d.status = %s THEN '' ELSE d.status_reason END, "
        "updated_at = CASE WHEN d.status = %s THEN v.at ELSE d.updated_at END "
        "FROM v WHERE d.id = ANY(%s::bigint[]) AND d.id = v.id AND d.claimed_by = v.run "
        "AND (d.status = %s OR d.provider_message_id = '')) "
        f"UPDATE {attempts} a SET finished_at = v.at, provider_message_id = v.provider_id, "
        "request_summary = v.request, response = v.response, outcome = 'accepted' "
        "FROM v WHERE a.id = ANY(%s::bigint[]) AND a.id = v.attempt"
    )
    params = [*columns.values(), *[sending] * 5, columns["id"], sending, columns["attempt"]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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


def _fail_unsent(delivery: Delivery, token: str, error: TransportError, *, now: dt.datetime) -> None:
    """A failure found before any attempt (our configuration): the bounce policy decides."""
    assert error.classification is not None
    outcomes.apply_failure(
        delivery,
        classification=error.classification,
        redial=False,
        now=now,
        expected={"status": Status.SENDING, "claimed_by": token},
        error_code=error.code,
        error_detail=error.message,
    )


def _record_error(delivery: Delivery, run: str, attempt: Attempt, error: TransportError) -> None:
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
        return
    if error.ambiguous:
        # Outcome unknown: let the restart rules decide after the grace period.
        _mine(delivery, run).update(lease_expires_at=now, status_reason=error.message[:255], updated_at=now)
        return
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
