"""Delivery outcomes: provider events and send results move a delivery forward, never back.

One entry point for everything that learns how a delivery went — provider webhooks (Twilio SMS
and call status, fax callbacks), e-mail tracking events (``messaging.channels.email.tracking``), the dispatcher's
own send results: :func:`delivery_apply_status`.

Rules
-----
* **Forward only.** ``Status`` ranks: scheduled < queued < sending < sent < delivered; failed,
  suppressed and cancelled are final like delivered. A late "sent" never overwrites
  "delivered"; nothing changes a final delivery. Provider events only apply to a delivery that
  is out with the provider (sending or sent); events of an earlier attempt (their provider
  message id belongs to an older :class:`~messaging.models.Attempt`) are kept but not applied.
* **Idempotent.** Each event is stored once as a :class:`~messaging.models.ProviderEvent`
  (unique provider + event id); a duplicate returns False and changes nothing.
* **Compare-and-set.** The status is written with ``UPDATE … WHERE status = <what we read>``;
  a concurrent change makes us read again and re-decide.
* **Failures** follow the channel's :func:`retry_policy`: a soft one schedules a redial or resend
  via ``next_attempt_at`` (the sweeper picks it up) until the channel's counts are used up, then
  ends it as failed (soft); a hard one ends it (failed). Only a delivery that *ended* failed goes
  to ``bounces.services.bounce_record``, once: hard puts the address on the Do-Not-Send list, soft
  counts one failed message towards a pause (a redial or resend is not a new bounce).

Retry policy per channel (the seed's numbered settings)
-------------------------------------------------------
======  ==============================  =================================  ==================
channel redials (busy / no answer)      resends                            restart unfinished
======  ==============================  =================================  ==================
voice   266, ``DISPATCH_REDIAL_SECONDS``  257, every 268 minutes             271
fax     260, ``DISPATCH_REDIAL_SECONDS``  251, every 262 minutes             259
email   none (no line to redial)        256, every 258 minutes             always
sms     none                            none (see below)                   always
======  ==============================  =================================  ==================

README › Delivery rules › Retries: each of the **1 + resends** sends is dialled up to **1 + redials**
times — redials ``DISPATCH_REDIAL_SECONDS`` apart, for a line failure (busy / no answer / a failed
call) —, and the next send starts the resend interval after the previous send's last dial failed.
An always-busy line is thus called exactly (1 + resends) × (1 + redials) times; a soft failure that
is not a line failure (a full mailbox) skips the rest of the send's redials (a call answered by a
machine where voicemail is not allowed is not a failure: it ends "Not left", see the voice
webhooks); a hard one ends the delivery once the send's redials are used up. A redial may retry
even a hard-looking call failure (Twilio's ``failed`` is often transient, and the product's
settings say busy / no-answer / failed calls are redialled).

SMS is not resent after a soft failure: the seed has no SMS resend setting, carriers already
retry an unreachable handset within the message's validity period, and the FCC healthcare
exemption allows at most one text a day — a second copy is worse than a missed reminder.
Throttling (HTTP 429 / 20429) and network errors are not failures and are retried by the
dispatcher with back-off on every channel.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from bounces.taxonomy import Classification
from core import clock
from messaging import progress_sql
from messaging.channels.registry import spec_for
from messaging.fallback import fallback_after
from messaging.models import Attempt, Delivery, ProviderEvent, Status

logger = logging.getLogger(__name__)

RANK: dict[str, int] = {
    Status.SCHEDULED: 0,
    Status.QUEUED: 1,
    Status.SENDING: 2,
    Status.SENT: 3,
    Status.DELIVERED: 4,
    Status.FAILED: 4,
    Status.SUPPRESSED: 4,
    Status.CANCELLED: 4,
}
# Provider events apply only while the provider has the message (or is about to).
OUT_WITH_PROVIDER = (Status.SENDING, Status.SENT)
_CAS_ROUNDS = 5


# --- retry policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    redials: int = 0  # per send
    redial_delay: dt.timedelta = dt.timedelta(minutes=1)
    resends: int = 0
    resend_interval: dt.timedelta = dt.timedelta(hours=1)
    restart_unfinished: bool = True

    @property
    def sends(self) -> int:
        return 1 + self.resends

    @property
    def dials_per_send(self) -> int:
        return 1 + self.redials

    @property
    def most_attempts(self) -> int:
        """Provider calls to an address that always fails softly on the line: sends × dials."""
        return self.sends * self.dials_per_send


def retry_policy(channel: str) -> RetryPolicy:
    """The channel's redial / resend / restart settings, read now (staff may change them)."""
    from messaging.system_settings import get_setting

    try:
        spec = spec_for(channel)
    except LookupError:
        return RetryPolicy()

    def number(setting: int | None, default: int = 0) -> int:
        return int(get_setting(setting)) if setting is not None else default

    policy = RetryPolicy(
        redials=number(spec.redial_setting),
        redial_delay=dt.timedelta(seconds=getattr(settings, "DISPATCH_REDIAL_SECONDS", 60)),
        resends=number(spec.resend_setting),
        restart_unfinished=bool(get_setting(spec.restart_setting)) if spec.restart_setting is not None else True,
    )
    if spec.resend_interval_setting is not None:
        policy = replace(policy, resend_interval=dt.timedelta(minutes=number(spec.resend_interval_setting)))
    return policy


@dataclass(frozen=True)
class Retry:
    kind: str  # "redial" or "resend"
    at: dt.datetime
    number: int  # this redial's / resend's number (1-based)
    of: int


def next_retry(
    policy: RetryPolicy, *, redials_this_send: int, resend_count: int, redial: bool, hard: bool, now: dt.datetime
) -> Retry | None:
    """When to try again after a failure, or None when the delivery is finished.

    ``redials_this_send``: redials already made since the current send's first dial (each send
    gets ``policy.redials`` of its own); ``resend_count``: resends already made.
    """
    if redial and redials_this_send < policy.redials:
        return Retry("redial", now + policy.redial_delay, redials_this_send + 1, policy.redials)
    if not hard and resend_count < policy.resends:
        return Retry("resend", now + policy.resend_interval, resend_count + 1, policy.resends)
    return None


def redials_this_send(delivery_id: int) -> int:
    """Redials since the current send's first dial (its first attempt or its latest resend); a
    restart after a worker failure repeats a dial and counts as neither."""
    count = 0
    kinds = Attempt.objects.filter(delivery_id=delivery_id).order_by("-number").values_list("kind", flat=True)
    for kind in kinds:
        if kind == Attempt.Kind.REDIAL:
            count += 1
        elif kind != Attempt.Kind.RESTART:
            break
    return count


# --- the entry point --------------------------------------------------------------------------------


def delivery_apply_status(
    *,
    delivery_id: int,
    status: str,
    provider: str,
    event_id: str,
    event_type: str = "",
    payload: dict[str, Any] | None = None,
    classification: Classification | None = None,
    provider_message_id: str = "",
    redial: bool = False,
    seen: Delivery | None = None,
) -> bool:
    """Record one provider event and apply it to the delivery; True when the delivery changed.

    ``status`` is ours (``Status``: sent, delivered, failed, …). ``redial`` marks a failure the
    line may fix by dialling again (busy / no answer; voice and fax only). A duplicate event
    (same provider and event id) returns False and changes nothing. ``seen``: the delivery as the
    caller has just read it (saves reading it again; the compare-and-set catches it being stale).

    An event that cannot change the delivery as read (an earlier status, or one of an earlier
    attempt: most of a provider's callbacks) is stored in one ``INSERT … ON CONFLICT DO NOTHING``,
    without a transaction; the others are applied in one, by compare-and-set.
    """
    if status not in RANK:
        raise ValueError(f"unknown delivery status {status!r}")
    now = clock.now()
    delivery = seen if seen is not None and seen.pk == delivery_id else Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return False
    provider_message_id = _bare(provider_message_id)
    if _changes_nothing(delivery, status, classification, provider_message_id):
        if progress_sql.usable(Status.SENT):  # PostgreSQL: one round trip
            progress_sql.store_unapplied(
                delivery_id=delivery_id, status=status, provider=provider, event_id=event_id,
                event_type=event_type, payload=payload or {}, now=now,
            )  # fmt: skip
            return False
        event = ProviderEvent(delivery_id=delivery_id, status=status, payload=payload or {}, received_at=now)
        _event_ids(event, provider, event_id, event_type)
        ProviderEvent.objects.bulk_create([event], ignore_conflicts=True)  # a duplicate stays the first one
        return False
    if _one_statement_will_do(delivery, status, classification, provider_message_id, redial):
        recorded = {"provider": provider, "event_id": event_id, "event_type": event_type, "payload": payload or {}}
        if progress_sql.apply_progress(
            delivery, status=status, provider_message_id=provider_message_id, now=now, **recorded
        ):
            if status == Status.DELIVERED:
                _bounce_success(delivery)
            return True
        # The row moved meanwhile, or the event is a duplicate: the general path decides.
    try:
        with transaction.atomic():
            changed = _apply_event(
                delivery,
                status=status,
                classification=classification,
                provider_message_id=provider_message_id,
                redial=redial,
                now=now,
            )
            if changed is None:
                return False  # no such delivery
            event = ProviderEvent(delivery_id=delivery_id, status=status, payload=payload or {}, received_at=now)
            _event_ids(event, provider, event_id, event_type)
            event.applied = changed
            event.save(force_insert=True)
    except IntegrityError:
        if _is_duplicate(provider, event_id):
            return False
        raise
    return changed


def _is_duplicate(provider: str, event_id: str) -> bool:
    return ProviderEvent.objects.filter(provider=provider[:32], event_id=event_id[:200]).exists()


def _event_ids(event: ProviderEvent, provider: str, event_id: str, event_type: str) -> None:
    event.provider, event.event_id, event.event_type = provider[:32], event_id[:200], event_type[:64]


def _changes_nothing(
    delivery: Delivery, status: str, classification: Classification | None, provider_message_id: str
) -> bool:
    """Whether :func:`_apply_event` would leave ``delivery`` (as read) as it is, decided without a
    query; False when unsure (a failure, a delay, a provider id the delivery does not know yet)."""
    if status == Status.FAILED or classification is not None:
        return False  # failures may retry or record a late bounce; a delay is written on the row
    current = _bare(delivery.provider_message_id)
    if provider_message_id and current and provider_message_id != current:
        return True  # an event of an earlier attempt (_is_stale)
    if provider_message_id and not current:
        return False  # the event brings the provider id, or is stale: _apply_event decides
    return delivery.status not in OUT_WITH_PROVIDER or RANK[status] <= RANK[delivery.status]


def _one_statement_will_do(
    delivery: Delivery, status: str, classification: Classification | None, provider_message_id: str, redial: bool
) -> bool:
    """A plain forward move while the provider has the message, of the current attempt (no failure,
    no delay notice, no provider id that would need the earlier attempts looked at): PostgreSQL
    applies it in one statement (messaging.progress_sql)."""
    if classification is not None or redial or not progress_sql.usable(status):
        return False
    if delivery.status not in OUT_WITH_PROVIDER or RANK[status] <= RANK[delivery.status]:
        return False
    current = _bare(delivery.provider_message_id)
    return not provider_message_id or current == provider_message_id or (not current and delivery.attempt_count <= 1)


def _apply_event(
    seen: Delivery,
    *,
    status: str,
    classification: Classification | None,
    provider_message_id: str,
    redial: bool,
    now: dt.datetime,
) -> bool | None:
    """Apply the event by compare-and-set, first against ``seen``, then against fresh reads."""
    delivery_id = seen.pk
    for round_ in range(_CAS_ROUNDS):
        delivery = seen if round_ == 0 else Delivery.objects.filter(pk=delivery_id).first()
        if delivery is None:
            return None
        if _is_stale(delivery, provider_message_id):
            return False
        if delivery.status not in OUT_WITH_PROVIDER:
            _late_hard_bounce(delivery, status, classification)
            return False
        expected = {"status": delivery.status, "provider_message_id": delivery.provider_message_id}
        if status == Status.FAILED:
            done = apply_failure(
                delivery,
                classification=classification or _default_classification(),
                redial=redial,
                now=now,
                expected=expected,
                provider_message_id=provider_message_id,
            )
        else:
            done = _apply_progress(delivery, status, classification, provider_message_id, now=now, expected=expected)
        if done is not None:
            return done
    logger.warning("delivery %s: status kept changing under us; event recorded unapplied", delivery_id)
    return False


def _bare(message_id: str) -> str:
    return (message_id or "").strip().strip("<>")


def _is_stale(delivery: Delivery, provider_message_id: str) -> bool:
    """An event of an earlier attempt (its provider id is not the current attempt's)."""
    if not provider_message_id:
        return False
    current = _bare(delivery.provider_message_id)
    if current == provider_message_id:
        return False
    if current:
        return True
    older = Attempt.objects.filter(delivery_id=delivery.pk, number__lt=delivery.attempt_count)
    return older.filter(provider_message_id__in=[provider_message_id, f"<{provider_message_id}>"]).exists()


def _late_hard_bounce(delivery: Delivery, status: str, classification: Classification | None) -> None:
    """A hard bounce reported after the delivery ended (e-mail may bounce after "delivered")."""
    late = status == Status.FAILED and delivery.status == Status.DELIVERED
    if late and classification is not None and classification.hard:
        _bounce_record(delivery, classification)


def _cas(delivery: Delivery, expected: dict[str, Any], **changes: Any) -> bool:
    return Delivery.objects.filter(pk=delivery.pk, **expected).update(**changes) == 1


def _apply_progress(
    delivery: Delivery,
    status: str,
    classification: Classification | None,
    provider_message_id: str,
    *,
    now: dt.datetime,
    expected: dict[str, Any],
) -> bool | None:
    """sent / delivered / suppressed / cancelled: forward only. None means "read again"."""
    changes: dict[str, Any] = {}
    if RANK[status] > RANK[delivery.status]:
        changes.update(_progress_fields(status, now))
        if status == Status.DELIVERED:
            changes.update(bounce_category="", hard_bounce=None)
    if provider_message_id and not delivery.provider_message_id:
        changes["provider_message_id"] = provider_message_id
    if classification is not None and status == Status.SENT:
        changes["status_reason"] = f"Delayed: {classification.category} ({classification.reason})"[:255]
    if not changes:
        return False
    if not _cas(delivery, expected, updated_at=now, **changes):
        return None
    if "status" in changes:
        _close_attempt(delivery, status, now=now)
        if status == Status.DELIVERED:
            _bounce_success(delivery)
    return True


def _progress_fields(status: str, now: dt.datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": status}
    if status == Status.SENT:
        fields["sent_at"] = now
    elif status == Status.DELIVERED:
        fields.update(delivered_at=now, finished_at=now, lease_expires_at=None, next_attempt_at=None)
    else:
        fields.update(finished_at=now, lease_expires_at=None, next_attempt_at=None)
    return fields


def _close_attempt(delivery: Delivery, outcome: str, *, now: dt.datetime, error_code: str = "") -> None:
    Attempt.objects.filter(delivery_id=delivery.pk, number=delivery.attempt_count).update(
        outcome=outcome[:16], finished_at=now, **({"error_code": error_code[:32]} if error_code else {})
    )


# --- failures ---------------------------------------------------------------------------------------


def apply_failure(
    delivery: Delivery,
    *,
    classification: Classification,
    redial: bool,
    now: dt.datetime,
    expected: dict[str, Any],
    provider_message_id: str = "",
    error_code: str = "",
    error_detail: str = "",
) -> bool | None:
    """A failed attempt: schedule a redial / resend or end the delivery. None: CAS lost, read again.

    ``expected`` is the compare-and-set condition (e.g. the status we read, or the worker's
    claim). The dispatcher uses this for failures it learns from the provider's API answer.
    """
    policy = retry_policy(delivery.channel)
    hard = bool(classification.hard) or not _retryable(classification)
    retry = next_retry(
        policy,
        redials_this_send=redials_this_send(delivery.pk) if redial and policy.redials else 0,
        resend_count=delivery.resend_count,
        redial=redial,
        hard=hard,
        now=now,
    )
    common: dict[str, Any] = {
        "bounce_category": str(classification.category)[:24],
        "hard_bounce": bool(classification.hard),
        "error_code": (error_code or _code_from(classification))[:32],
        "error_detail": (error_detail or classification.reason or "")[:500],
        "lease_expires_at": None,
        "updated_at": now,
    }
    if retry is None:
        changes = {**common, "status": Status.FAILED, "finished_at": now, "next_attempt_at": None}
        changes["status_reason"] = _final_reason(classification, delivery, policy)[:255]
        if provider_message_id and not delivery.provider_message_id:
            changes["provider_message_id"] = provider_message_id
    else:
        counter = "redial_count" if retry.kind == "redial" else "resend_count"
        changes = {
            **common,
            "status": Status.QUEUED,
            "next_attempt_at": retry.at,
            "claimed_by": "",
            "provider_message_id": "",
            "retry_kind": retry.kind,
            counter: F(counter) + 1,
            "status_reason": (
                f"{classification.category}: {retry.kind} {retry.number} of {retry.of}"
                f"{_send_of(retry, delivery, policy)} at {retry.at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
            )[:255],
        }
    if not _cas(delivery, expected, **changes):
        return None
    _close_attempt(delivery, Status.FAILED, now=now, error_code=common["error_code"])
    delivery.refresh_from_db()
    if retry is None:  # the message ended failed: one bounce, whatever its redials and resends
        _bounce_record(delivery, classification)
        fallback_after(delivery)  # the type's next channel, if it names a fallback order
    return True


def _send_of(retry: Retry, delivery: Delivery, policy: RetryPolicy) -> str:
    """For a redial when the channel resends too: which send it belongs to (", send 2 of 3")."""
    if retry.kind != "redial" or not policy.resends:
        return ""
    return f", send {delivery.resend_count + 1} of {policy.sends}"


def _retryable(classification: Classification) -> bool:
    retryable = getattr(classification, "retryable", None)
    return (not classification.hard) if retryable is None else bool(retryable)


def _code_from(classification: Classification) -> str:
    reason = classification.reason or ""
    for word in reason.replace(":", " ").split():
        if word.isdigit():
            return word
    return ""


def _final_reason(classification: Classification, delivery: Delivery, policy: RetryPolicy) -> str:
    kind = "hard" if classification.hard else "soft"
    text = f"{classification.category} ({kind})"
    if classification.reason:
        text += f": {classification.reason}"
    if not classification.hard and (policy.redials or policy.resends):
        text += f"; retries used ({delivery.redial_count} redials, {delivery.resend_count} resends)"
    return text


def _default_classification() -> Classification:
    return Classification(category="Other", hard=False, reason="failure without details")


def _bounce_record(delivery: Delivery, classification: Classification) -> None:
    from bounces.services import bounce_record

    bounce_record(delivery=delivery, classification=classification)


def _bounce_success(delivery: Delivery) -> None:
    from bounces.services import bounce_success

    bounce_success(channel=delivery.channel, address=delivery.address)
