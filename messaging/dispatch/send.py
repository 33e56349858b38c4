"""Sending a batch of claimed deliveries (the ``messaging.send_batch`` task).

A batch of claimed rows still ours is checked again (:mod:`messaging.dispatch.checks`: consent,
the Do-Not-Send list, the address and the recipient's sending window), settling the rest without
a provider call; the batch reserves its slots of the channel's shared rate; its attempts start
together (:mod:`messaging.dispatch.attempts`); then, per delivery, the transport is called
**outside any transaction** and the results are written back in groups
(:mod:`messaging.dispatch.writeback`). While a channel without a rate limit has a backlog, the task
keeps claiming bigger batches for ``DISPATCH_SWEEP_SECONDS``, then hands the backlog over as a new
task.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import clock
from messaging import ratelimit
from messaging.channels.base import Transport, TransportError, refusal, transport_for
from messaging.content import record_for, store_contents
from messaging.dispatch import outages
from messaging.dispatch.attempts import _fail_unsent, _mine, _put_back, _record_error, _Send, _start_attempts
from messaging.dispatch.checks import Verdict, blocked_for, check_before_send, outside_reason, resolve_address
from messaging.dispatch.claim import batch_size, claim_batch, enqueue
from messaging.dispatch.pauses import hold_if_paused, paused_for
from messaging.dispatch.windows import next_window_start, recipient_zone
from messaging.dispatch.writeback import _Accepted, _Results
from messaging.languages import Variants
from messaging.models import Delivery, MessageTemplate, Status, TemplateVersion
from messaging.rendering import Rendered, delivery_context, recipient_wants, render_for

logger = logging.getLogger("messaging.dispatch")  # one logger for the package, as before the split

# A draining task on a channel without a rate limit claims this many send batches at once (100
# rows by default): each batch costs a few round trips whatever its size (claim, load, Do-Not-Send
# look-up, start, write-back; ~80 ms together on the busy benchmark machine), so during a backlog
# bigger batches cost less per message; the sweep's small batches spread the work. (5 -> 10 took
# bench_dispatch from 0.81-0.83 to 0.90-1.02 of the bare loop over 20,000 SMS.)
DRAIN_BATCH_FACTOR = 10
# A draining task's time varies by this fraction either way (see send_claimed).
DRAIN_JITTER = 0.25
# What the checks and templates read, joined into the batch's query; the optional relations (most
# deliveries have no appointment or staff recipient) come from a second query only when present:
# a ten-table join took PostgreSQL longer to plan (~5 ms) than to run.
SEND_RELATED = ("broadcast", "message_type", "client__messaging", "client__messaging_contact")
SEND_PREFETCH = ("appointment__clinician", "user__staff_profile")


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
    # Staggered: the pool's tasks start together after a sweep, and all handing their backlog over in
    # the same instant left the provider idle while each claimed, loaded and started its next batch.
    drain_seconds *= random.uniform(1 - DRAIN_JITTER, 1 + DRAIN_JITTER)
    results = _Results()
    templates = _TemplateCache()  # read once per task: a drain lasts seconds
    contents: dict[str, int] = {}  # content digest -> stored id, for this task
    total, hand_over = 0, ""
    batch = _load_batch(delivery_ids, claim_token, templates)
    try:
        while batch is not None:
            total, rate_bound = _send_batch(batch, results, contents, total=total)
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


def _send_batch(batch: _Batch, results: _Results, contents: dict[str, int], *, total: int = 0) -> tuple[int, bool]:
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
    _store_contents(ready, contents)
    run = _start_attempts(ready, token, now=now)
    transport = transport_for(channel)
    accepted, outcome = 0, ""
    try:
        with transport.session():
            for item in ready:
                if item.attempt is None:
                    continue
                if outcome == _PAUSED:  # the provider is down: the rest wait in the queue, unsent
                    _put_back(item, run, now=clock.now(), reason=outages.waiting_reason(channel, now))
                    continue
                outcome = _send(item, run, transport, results)
                accepted += outcome == _ACCEPTED
    finally:
        results.flush()  # whatever happens next, what the provider accepted is recorded first
    if outcome == _ACCEPTED:  # its last answer was good: any run of failures is over
        outages.note_success(channel, now=clock.now())
    paused = outcome == _PAUSED
    return total + accepted, reservation.waited > 0 or paused


def _ready_to_send(deliveries: list[Delivery], token: str, templates: _TemplateCache) -> list[_Send]:
    """Check each claimed delivery now; settle those that must not go out; render the others."""
    verdicts = [resolve_address(d) for d in deliveries]
    blocked = blocked_for(deliveries[0].channel, verdicts)
    paused = paused_for(deliveries[0].channel, verdicts)  # repeated soft failures: wait (messaging.dispatch.pauses)
    now = clock.now()
    ready: list[_Send] = []
    for delivery, verdict in zip(deliveries, verdicts, strict=True):
        verdict = check_before_send(delivery, verdict, blocked, now)
        if verdict.action != "send":
            _settle(delivery, token, verdict, now=now)
            continue
        if hold_if_paused(delivery, token, verdict, paused, now=now):
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
    _settle(item.delivery, token, Verdict("defer", reason=outside_reason(item.delivery), at=later), now=now)
    return True


class _TemplateCache:
    """The template versions a task has read, once each: a delivery is rendered from the version
    fixed when it was created (messaging.content), never from a template edited since; the version
    is set on the delivery, so its language (what its dates are written in) costs no query. Rows made
    before versions were kept use the variant of their type's current template in the recipient's
    language (messaging.languages), each type's variants read once."""

    def __init__(self) -> None:
        self._versions: dict[int, TemplateVersion | None] = {}
        self._variants = Variants()

    def get(self, delivery: Delivery) -> TemplateVersion | MessageTemplate | None:
        if delivery.template_version_id is not None:
            pk = delivery.template_version_id
            if pk not in self._versions:
                self._versions[pk] = TemplateVersion.objects.filter(pk=pk).first()
            version = self._versions[pk]
            if version is not None:
                delivery.template_version = version
            return version
        return self._variants.template(delivery.message_type_id, delivery.channel, recipient_wants(delivery))


def _store_contents(ready: list[_Send], contents: dict[str, int]) -> None:
    """Store what each message says before any provider call (identical content once; a batch whose
    text is the same for everyone computes its record once)."""
    seen: dict[tuple[str, Rendered], dict[str, Any]] = {}
    records = []
    for item in ready:
        key = (item.delivery.channel, item.rendered)
        if key not in seen:
            seen[key] = record_for(*key)
        records.append(seen[key])
    for item, content_id in zip(ready, store_contents(records, contents), strict=True):
        item.content_id = content_id


def _render(delivery: Delivery, templates: _TemplateCache) -> Any:
    template = templates.get(delivery)
    if template is None:
        return Rendered()
    # The template (version or current variant) says its language: no look-up per message.
    return render_for(template=template, context=delivery_context(delivery, language=template.language or ""))


def _settle(delivery: Delivery, token: str, verdict: Verdict, *, now: dt.datetime) -> bool:
    """Suppress, cancel or defer a claimed delivery without contacting the provider."""
    base: dict[str, Any] = {"lease_expires_at": None, "updated_at": now, "status_reason": verdict.reason[:255]}
    if verdict.action == "defer":
        return _requeue(delivery, token, at=verdict.at or now, reason=verdict.reason)
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


_ACCEPTED, _FAILED, _PAUSED = "accepted", "failed", "paused"


def _send(item: _Send, run: str, transport: Transport, results: _Results) -> str:
    """Call the provider (no transaction is open) and hand the outcome to ``results`` to write back.

    Returns "accepted", "failed", or "paused" (a failure that paused the channel: its provider
    keeps failing)."""
    delivery, attempt = item.delivery, item.attempt
    if attempt is None:  # another run owns it (the caller sends only started attempts)
        return _FAILED
    try:
        result = transport.send(delivery, item.rendered)
    except TransportError as error:
        return _PAUSED if _record_error(delivery, run, attempt, error) else _FAILED
    except Exception:
        logger.exception("delivery %s: unexpected error while sending; it will be restarted", delivery.pk)
        _record_error(delivery, run, attempt, TransportError("Unexpected error while sending", ambiguous=True))
        return _FAILED
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
    return _ACCEPTED
