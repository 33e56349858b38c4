"""Reconciliation: ask the provider about deliveries whose status callback never came (issue 17).

A provider's status callback can be lost: the provider gave up on a 5xx while the database was
down (Twilio does not retry a status callback that got an HTTP error), a network fault, a web tier
restarting. Without it a delivery would stay "sent" for good. So, on Celery beat every
``RECONCILE_SWEEP_SECONDS`` (task ``messaging.reconcile``), :func:`reconcile_waiting`:

1. selects up to ``RECONCILE_BATCH`` deliveries still ``sent`` (out with the provider) whose row has
   not changed for ``RECONCILE_AFTER_SECONDS``, oldest first, on a channel with a status API;
2. asks the provider for each one's current state — Twilio's Messages and Calls fetch through the
   real ``twilio`` client, the fax API's ``GET …/faxes/{id}`` — outside any transaction, on
   ``RECONCILE_CONCURRENCY`` threads (network only; the database is written from the calling
   thread);
3. applies what the provider says through the callback's own path
   (:func:`messaging.outcomes.delivery_apply_status`, compare-and-set, forward only) with the
   callback's own event id (``<sid>:<status>``, ``<fax id>:FAX_COMPLETED:<status>``): a callback
   that arrives after all is a duplicate and changes nothing, and a reconciliation that loses the
   race to it changes nothing either;
4. a delivery the provider still has in flight (or does not know) is touched (``updated_at``) so it
   is asked again only after another ``RECONCILE_AFTER_SECONDS``.

A provider that does not answer (network error, 5xx, 429) stops this run for its channel after
``_FAILURES_PER_CHANNEL`` failures in a row: the next run asks again, without hammering it.
E-mail and the portal have no status API and are not reconciled.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from core import clock
from messaging.models import Delivery, Status
from messaging.outcomes import delivery_apply_status

logger = logging.getLogger(__name__)

_FAILURES_PER_CHANNEL = 3


class NotKnown(Exception):
    """The provider does not know this id (404): nothing to apply; ask again later."""


@dataclass(frozen=True)
class Waiting:
    pk: int
    channel: str
    provider_id: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class Lookup:
    """How one channel's provider is asked (network only) and its answer applied (database only)."""

    fetch: Callable[[str], dict[str, Any]]
    apply: Callable[[Waiting, dict[str, Any]], bool]


@dataclass
class Report:
    asked: int = 0
    applied: int = 0
    still_out: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


# --- Twilio: Messages -----------------------------------------------------------------------------


def _fetch_message(sid: str) -> dict[str, Any]:
    from messaging.channels.sms.transport import twilio_client

    message = _twilio_fetch(lambda: twilio_client().messages(sid).fetch())
    return {"MessageSid": sid, "MessageStatus": str(message.status or ""), "ErrorCode": message.error_code}


def _apply_message(row: Waiting, answer: dict[str, Any]) -> bool:
    from messaging.channels.sms.webhooks import MESSAGE_STATUSES
    from messaging.channels.twilio.errors import classify_sms_error

    twilio_status = answer["MessageStatus"].lower()
    status = MESSAGE_STATUSES.get(twilio_status)
    if status is None or status in (Status.SENDING, Status.SENT):
        return False
    classification = None
    if status == Status.FAILED:
        classification = classify_sms_error(answer.get("ErrorCode") or "30008")
    return delivery_apply_status(
        delivery_id=row.pk,
        status=status,
        provider="twilio",
        event_id=f"{row.provider_id}:{twilio_status}",  # the callback's id: whichever comes second is a duplicate
        event_type=f"sms-{twilio_status}",
        payload={**answer, "source": "reconciliation"},
        classification=classification,
        provider_message_id=row.provider_id,
    )


# --- Twilio: Calls --------------------------------------------------------------------------------


def _fetch_call(sid: str) -> dict[str, Any]:
    from messaging.channels.voice.transport import twilio_client

    call = _twilio_fetch(lambda: twilio_client().calls(sid).fetch())
    return {"CallSid": sid, "CallStatus": str(call.status or ""), "AnsweredBy": str(call.answered_by or "")}


def _apply_call(row: Waiting, answer: dict[str, Any]) -> bool:
    from messaging.channels.voice.webhooks import IN_PROGRESS, VOICEMAIL_NOT_ALLOWED, call_outcome

    call_status = answer["CallStatus"].lower()
    if not call_status or call_status in IN_PROGRESS:
        return False
    delivery = Delivery.objects.filter(pk=row.pk).first()
    if delivery is None:
        return False
    status, classification, redial = call_outcome(delivery, call_status, answer["AnsweredBy"])
    with transaction.atomic():  # as the status webhook (messaging.channels.voice.webhooks.voice_status)
        changed = delivery_apply_status(
            delivery_id=row.pk,
            status=status,
            provider="twilio",
            event_id=f"{row.provider_id}:{call_status}",
            event_type=f"call-{call_status}",
            payload={**answer, "source": "reconciliation"},
            classification=classification,
            provider_message_id=row.provider_id,
            redial=redial,
        )
        if changed and status == Status.SUPPRESSED:
            Delivery.objects.filter(pk=row.pk, status=Status.SUPPRESSED).update(
                status_reason=VOICEMAIL_NOT_ALLOWED, bounce_category="", hard_bounce=None
            )
    return changed


def _twilio_fetch(fetch: Callable[[], Any]) -> Any:
    from twilio.base.exceptions import TwilioRestException

    try:
        return fetch()
    except TwilioRestException as exc:
        if exc.status == 404:
            raise NotKnown(str(exc)) from exc
        raise


# --- the fax API ----------------------------------------------------------------------------------

_FAX_FINAL = ("COMPLETED", "FAILURE")


def _fetch_fax(fax_id: str) -> dict[str, Any]:
    from messaging.channels.fax.api import FaxApiError
    from messaging.channels.fax.transport import fax_client

    client = fax_client()
    try:
        return client.get_fax(fax_id)
    except FaxApiError as exc:
        if exc.status == 404:
            raise NotKnown(str(exc)) from exc
        raise
    finally:
        client.close()


def _apply_fax(row: Waiting, fax: dict[str, Any]) -> bool:
    from messaging.channels.fax.webhooks import apply_fax_event

    if str(fax.get("status") or "").upper() not in _FAX_FINAL or str(fax.get("id") or "") != row.provider_id:
        return False
    # The FAX_COMPLETED callback's event, built from the fax object: the same event id.
    return apply_fax_event(row.pk, {"event": "FAX_COMPLETED", "fax": fax, "source": "reconciliation"}, fax)


# Channels whose provider has a status API. The channel's own package would be the better home for
# its lookup (a ChannelSpec field, as ``preview``); the registry is shared, so the table is here.
LOOKUPS: dict[str, Lookup] = {
    "sms": Lookup(_fetch_message, _apply_message),
    "voice": Lookup(_fetch_call, _apply_call),
    "fax": Lookup(_fetch_fax, _apply_fax),
}


# --- the run --------------------------------------------------------------------------------------


def waiting(*, now: dt.datetime, limit: int) -> list[Waiting]:
    """Deliveries out with the provider (``sent``) and unchanged for ``RECONCILE_AFTER_SECONDS``."""
    before = now - dt.timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)
    rows = (
        Delivery.objects.filter(status=Status.SENT, updated_at__lt=before, channel__in=list(LOOKUPS))
        .exclude(provider_message_id="")
        .order_by("updated_at", "id")
        .values_list("id", "channel", "provider_message_id", "updated_at")[:limit]
    )
    return [Waiting(pk, channel, provider_id.strip("<>"), updated) for pk, channel, provider_id, updated in rows]


def reconcile_waiting(*, now: dt.datetime | None = None) -> Report:
    """Ask the providers about deliveries whose callback is overdue and apply their answers."""
    now = now or clock.now()
    rows = waiting(now=now, limit=max(1, settings.RECONCILE_BATCH))
    report = Report()
    if not rows:
        return report
    answers = _ask(rows)
    for row, answer in zip(rows, answers, strict=True):
        if isinstance(answer, Exception):
            report.failed += not isinstance(answer, NotKnown)
            if isinstance(answer, NotKnown):
                _ask_later(row, now=now)
            continue
        report.asked += 1
        if LOOKUPS[row.channel].apply(row, answer):
            report.applied += 1
            report.by_channel[row.channel] = report.by_channel.get(row.channel, 0) + 1
        else:
            report.still_out += 1
            _ask_later(row, now=now)
    if report.applied or report.failed:
        logger.info(
            "reconciliation: asked %s, applied %s %s, %s still out, %s failed",
            report.asked, report.applied, report.by_channel, report.still_out, report.failed,
        )  # fmt: skip
    return report


def _ask(rows: list[Waiting]) -> list[dict[str, Any] | Exception]:
    """Each row's provider answer (or the exception), asked on a few threads; no database here."""
    failures: dict[str, int] = {}

    def one(row: Waiting) -> dict[str, Any] | Exception:
        if failures.get(row.channel, 0) >= _FAILURES_PER_CHANNEL:
            return ConnectionError(f"{row.channel}: provider not answering; skipped this run")
        try:
            answer = LOOKUPS[row.channel].fetch(row.provider_id)
        except NotKnown as exc:
            return exc
        except Exception as exc:  # network error, 5xx, 429: the next run asks again
            failures[row.channel] = failures.get(row.channel, 0) + 1
            logger.warning("reconciliation: delivery %s: provider did not answer: %s", row.pk, type(exc).__name__)
            return exc
        failures[row.channel] = 0
        return answer

    workers = max(1, min(settings.RECONCILE_CONCURRENCY, len(rows)))
    with ThreadPoolExecutor(workers, thread_name_prefix="reconcile") as pool:
        return list(pool.map(one, rows))


def _ask_later(row: Waiting, *, now: dt.datetime) -> None:
    """Still in flight: ask again after another ``RECONCILE_AFTER_SECONDS`` (unless it moved)."""
    Delivery.objects.filter(pk=row.pk, status=Status.SENT, updated_at=row.updated_at).update(updated_at=now)
