"""Reconciliation: ask the provider about deliveries whose status callback never came (issue 17).

A provider's status callback can be lost: the provider gave up on a 5xx while the database was
down (Twilio does not retry a status callback that got an HTTP error), a network fault, a web tier
restarting. Without it a delivery would stay "sent" for good. So, on Celery beat every
``RECONCILE_SWEEP_SECONDS`` (task ``messaging.reconcile``), :func:`reconcile_waiting`:

1. selects up to ``RECONCILE_BATCH`` deliveries still ``sent`` (out with the provider) whose row has
   not changed for ``RECONCILE_AFTER_SECONDS``, oldest first, on a channel with a status API (its
   ``ChannelSpec.status_lookup``);
2. asks the provider for each one's current state — the channel's ``fetch_status``: Twilio's
   Messages and Calls fetch through the real ``twilio`` client, the fax API's ``GET …/faxes/{id}``
   — outside any transaction, on ``RECONCILE_CONCURRENCY`` threads (network only; the database is
   written from the calling thread);
3. applies what the provider says (the channel's ``apply_status``) through the callback's own path
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
from django.utils.module_loading import import_string

from core import clock
from messaging.channels.base import NotKnown
from messaging.channels.registry import reconciled
from messaging.models import Delivery, Status

logger = logging.getLogger(__name__)

_FAILURES_PER_CHANNEL = 3


@dataclass(frozen=True)
class Waiting:
    pk: int
    channel: str
    provider_id: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class Lookup:
    """How one channel's provider is asked (network only) and its answer applied (database only):
    the ``fetch_status`` and ``apply_status`` of the module its ``ChannelSpec.status_lookup`` names."""

    fetch: Callable[[str], dict[str, Any]]
    apply: Callable[[int, str, dict[str, Any]], bool]


def lookups() -> dict[str, Lookup]:
    """The channels whose provider has a status API, by kind (from the registry)."""
    return {
        spec.kind: Lookup(
            import_string(f"{spec.status_lookup}.fetch_status"), import_string(f"{spec.status_lookup}.apply_status")
        )
        for spec in reconciled()
    }


@dataclass
class Report:
    asked: int = 0
    applied: int = 0
    still_out: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


# --- the run --------------------------------------------------------------------------------------


def waiting(*, now: dt.datetime, limit: int) -> list[Waiting]:
    """Deliveries out with the provider (``sent``) and unchanged for ``RECONCILE_AFTER_SECONDS``."""
    before = now - dt.timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)
    rows = (
        Delivery.objects.filter(
            status=Status.SENT, updated_at__lt=before, channel__in=[spec.kind for spec in reconciled()]
        )
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
    table = lookups()
    answers = _ask(rows, table)
    for row, answer in zip(rows, answers, strict=True):
        if isinstance(answer, Exception):
            report.failed += not isinstance(answer, NotKnown)
            if isinstance(answer, NotKnown):
                _ask_later(row, now=now)
            continue
        report.asked += 1
        if table[row.channel].apply(row.pk, row.provider_id, answer):
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


def _ask(rows: list[Waiting], table: dict[str, Lookup]) -> list[dict[str, Any] | Exception]:
    """Each row's provider answer (or the exception), asked on a few threads; no database here."""
    failures: dict[str, int] = {}

    def one(row: Waiting) -> dict[str, Any] | Exception:
        if failures.get(row.channel, 0) >= _FAILURES_PER_CHANNEL:
            return ConnectionError(f"{row.channel}: provider not answering; skipped this run")
        try:
            answer = table[row.channel].fetch(row.provider_id)
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
