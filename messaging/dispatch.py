"""The dispatcher: due deliveries are claimed from the database and sent by Celery workers.

The database is the schedule and the source of truth; Celery only carries small "send these
claimed ids" tasks, never a countdown or ETA.

1. **Sweep** (:func:`sweep_due`, on Celery beat every ``DISPATCH_SWEEP_SECONDS`` and kicked after
   Send): restart unfinished jobs (below), then claim due ``queued`` rows per channel in chunks —
   ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional ``UPDATE`` on SQLite — setting
   ``status='sending'``, a claim token (``claimed_by``) and a lease. How much is claimed per sweep
   follows the channel's rate, so leases stay meaningful and stop times are judged fresh.
2. **Send** (:func:`send_claimed`, the ``messaging.send_batch`` task) a batch of claimed rows
   still ours: check again consent, the Do-Not-Send list, the address and the recipient's
   sending window (stop times), settling the rest without a provider call; reserve the batch's
   slots of the channel's shared rate; start the attempts — one ``UPDATE … RETURNING`` moves the
   rows from the claim token to a token of this run (compare-and-set: a task delivered twice, or
   two workers, get each row at most once), counts the attempt and extends the lease, and the
   :class:`~messaging.models.Attempt` rows are written in the same commit; then, per delivery,
   call the transport **outside any transaction** and write the result back with a conditional
   ``UPDATE`` (one statement with the attempt's result on PostgreSQL). While a channel without a
   rate limit has a backlog, the task keeps claiming bigger batches for ``DISPATCH_SWEEP_SECONDS``.
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

from messaging import clock, outcomes, ratelimit
from messaging.channels.base import Transport, TransportError, refusal, transport_for
from messaging.models import Attempt, Broadcast, Channel, Delivery, MessageTemplate, Status

logger = logging.getLogger(__name__)

STOP_TIME_SETTINGS = {Channel.VOICE: 270, Channel.SMS: 272, Channel.FAX: 273}
MAX_ATTEMPTS = 25
# A draining task on a channel without a rate limit claims this many send batches at once: fewer
# claims and commits per message during a backlog (the sweep's small batches spread the work).
DRAIN_BATCH_FACTOR = 5
SEND_RELATED = (
    "broadcast",
    "message_type",
    "appointment",
    "appointment__clinician",
    "client__messaging",
    "client__messaging_contact",
    "user__staff_profile",
)


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
    due = Delivery.objects.filter(status=Status.QUEUED, channel=channel, next_attempt_at__lte=now)
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
        if not ids:
            return []
        # On SQLite the IMMEDIATE transaction serialises writers; the status condition is the CAS.
        Delivery.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.SENDING, claimed_by=token, lease_expires_at=now + lease(), updated_at=now
        )
    if not connection.features.has_select_for_update_skip_locked:
        ids = list(
            Delivery.objects.filter(pk__in=ids, claimed_by=token, status=Status.SENDING).values_list("id", flat=True)
        )
    size = batch or batch_size(channel)
    return [Claim(channel, token, tuple(ids[i : i + size])) for i in range(0, len(ids), size)]


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
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


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
    """
    started = time.monotonic()
    result = _send_batch(delivery_ids, claim_token)
    channel = result.channel
    while channel and drain_seconds and time.monotonic() - started < drain_seconds and not result.rate_bound:
        size = batch_size(channel) * (1 if ratelimit.rate_for(channel) else DRAIN_BATCH_FACTOR)
        claims = claim_batch(channel=channel, now=clock.now(), limit=size, batch=size)
        if not claims:
            break
        for claim in claims:
            result = _send_batch(claim.ids, claim.token, total=result.total)
    return result.total


@dataclass(frozen=True)
class _BatchResult:
    channel: str = ""
    total: int = 0
    rate_bound: bool = False


@dataclass
class _Send:
    """One delivery of a batch on its way out: what it says, and its attempt once started."""

    delivery: Delivery
    verdict: Verdict
    rendered: Any = None
    attempt: Attempt | None = None


def _send_batch(delivery_ids: Sequence[int], token: str, *, total: int = 0) -> _BatchResult:
    """One batch: checks, one rate reservation, attempts started together, then each send in turn."""
    deliveries = list(
        Delivery.objects.filter(pk__in=list(delivery_ids), status=Status.SENDING, claimed_by=token)
        .select_related(*SEND_RELATED)
        .order_by("next_attempt_at", "id")
    )
    if not deliveries:
        return _BatchResult(total=total)
    channel = deliveries[0].channel
    ready = _ready_to_send(deliveries, token)
    if not ready:
        return _BatchResult(channel=channel, total=total)
    reservation = ratelimit.acquire(channel, count=len(ready))
    now = clock.now()
    if not reservation.ok:
        at = now + dt.timedelta(seconds=reservation.retry_in)
        for item in ready:
            _requeue(item.delivery, token, at=at, reason="Waiting for the sending rate")
        return _BatchResult(channel=channel, total=total, rate_bound=True)
    if reservation.waited:
        ready = [item for item in ready if not _deferred_at_stop_time(item, token, now)]
    run = _start_attempts(ready, token, now=now)
    transport = transport_for(channel)
    accepted = 0
    with transport.session():
        for item in ready:
            if item.attempt is not None:
                accepted += _send(item, run, transport)
    return _BatchResult(channel=channel, total=total + accepted, rate_bound=reservation.waited > 0)


def _ready_to_send(deliveries: list[Delivery], token: str) -> list[_Send]:
    """Check each claimed delivery now; settle those that must not go out; render the others."""
    verdicts = [resolve_address(d) for d in deliveries]
    blocked = blocked_for(deliveries[0].channel, verdicts)
    templates = _TemplateCache()
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
    with transaction.atomic():  # the attempt count and the attempt rows commit together
        _begin_attempts(items, token, run, now=now)
    return run


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


def _send(item: _Send, run: str, transport: Transport) -> bool:
    """Call the provider (no transaction is open) and write the delivery's outcome back."""
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
    if not _write_back(delivery.pk, run, attempt.pk, delivery_fields, attempt_fields):
        # A provider callback settled it first (it carries our token): just keep the provider id.
        Delivery.objects.filter(pk=delivery.pk, claimed_by=run, provider_message_id="").update(
            provider_message_id=provider_id
        )
    return True


def _write_back(
    pk: int, run: str, attempt_pk: int, delivery_fields: dict[str, Any], attempt_fields: dict[str, Any]
) -> bool:
    """Compare-and-set the delivery (still ours and sending) and record the attempt, in one commit.

    On PostgreSQL both updates are one statement (a data-modifying CTE): one round trip and one
    WAL flush per message, which is most of the dispatcher's own cost per send.
    """
    where = "id = %s AND status = %s AND claimed_by = %s"
    if connection.vendor == "postgresql":
        attempt_sql, attempt_args = _update_sql(Attempt, attempt_fields, "id = %s")
        delivery_sql, delivery_args = _update_sql(Delivery, delivery_fields, where)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH attempt AS ({attempt_sql}) {delivery_sql}",
                [*attempt_args, attempt_pk, *delivery_args, pk, Status.SENDING.value, run],
            )
            return cursor.rowcount == 1
    with transaction.atomic():
        moved = _update(Delivery, delivery_fields, where, [pk, Status.SENDING.value, run])
        _update(Attempt, attempt_fields, "id = %s", [attempt_pk])
    return moved == 1


def _update_sql(model: type[Any], values: dict[str, Any], where: str) -> tuple[str, list[Any]]:
    """A plain ``UPDATE … SET … WHERE`` and its value parameters (each field adapts its value);
    ``where`` names columns and uses placeholders only. The ORM's expression machinery costs more
    CPU than the round trip for the statements every send makes."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns, args = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        columns.append(f"{quote(field.column)} = %s")
        args.append(field.get_db_prep_save(value, connection))
    return f"UPDATE {quote(meta.db_table)} SET {', '.join(columns)} WHERE {where}", args  # noqa: S608


def _update(model: type[Any], values: dict[str, Any], where: str, params: list[Any]) -> int:
    sql, args = _update_sql(model, values, where)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*args, *params])
        return cursor.rowcount


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
