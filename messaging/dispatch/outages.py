"""Provider outages: a channel whose provider keeps failing is paused, probed, and resumed (issue 17).

Every send that fails without the provider judging the message — HTTP 5xx, a timeout, a refused
connection — counts in the channel's open :class:`~messaging.models.ProviderOutage` row
(:func:`note_failure`); any accepted send ends the run (:func:`note_success`). At
``PROVIDER_OUTAGE_FAILURES`` failures in a row the channel is **paused**: the sweeper claims none of
its messages except one **probe** every ``PROVIDER_PROBE_SECONDS`` (doubling up to
``PROVIDER_PROBE_MAX_SECONDS``), so a provider that is down is not hammered and the messages keep
their place in the queue; the rest of a batch that was going out when the pause began is put back
unsent. The first accepted probe ends the outage and the next sweep sends the backlog at the
channel's usual rate. Staff see a banner on the New tab and History while a channel is paused
(:func:`banners`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.channels.registry import spec_for
from messaging.models import ProviderOutage

logger = logging.getLogger("messaging.dispatch")

# Whether a channel has an open outage row, as this process last saw it: an accepted send checks
# the database at most this often (a busy channel sends thousands a minute).
_SEEN_FOR = 2.0
_seen: dict[str, tuple[float, bool]] = {}


def _open(channel: str) -> ProviderOutage | None:
    return ProviderOutage.objects.filter(channel=channel, ended_at__isnull=True).first()


def note_failure(channel: str, error: str, *, now: dt.datetime) -> ProviderOutage:
    """Count one failure of ``channel``'s provider; pause the channel at the threshold."""
    _seen[channel] = (time.monotonic() + _SEEN_FOR, True)
    for _ in range(3):
        try:
            with transaction.atomic():
                row = ProviderOutage.objects.select_for_update().filter(channel=channel, ended_at__isnull=True).first()
                if row is None:
                    row = ProviderOutage(channel=channel, first_failure_at=now, last_failure_at=now)
                _count(row, error, now=now)
                row.save()
                return row
        except IntegrityError:  # another worker opened the row first: count on it
            continue
    raise RuntimeError("could not record the provider failure")


# Failures further apart than this are not a run: a provider that fails now and then, between
# successes another worker saw, never adds up to a pause.
_RUN_GAP = dt.timedelta(seconds=60)


def _count(row: ProviderOutage, error: str, *, now: dt.datetime) -> None:
    if row.paused_at is None and row.failures and now - row.last_failure_at > _RUN_GAP:
        row.failures, row.first_failure_at = 0, now  # the earlier failures were not this run
    row.failures += 1
    row.last_failure_at = now
    row.last_error = error[:255]
    if row.paused_at is None and row.failures >= settings.PROVIDER_OUTAGE_FAILURES:
        row.paused_at = now
        row.next_probe_at = now + _probe_interval(0)
        logger.warning("%s: the provider failed %s times in a row; channel paused", row.channel, row.failures)
    elif row.paused_at is not None:  # a probe failed: wait longer before the next one
        row.probes += 1
        row.next_probe_at = now + _probe_interval(row.probes)


def _probe_interval(probes: int) -> dt.timedelta:
    seconds = min(settings.PROVIDER_PROBE_MAX_SECONDS, settings.PROVIDER_PROBE_SECONDS * 2 ** min(probes, 16))
    return dt.timedelta(seconds=max(0.1, seconds))


def note_success(channel: str, *, now: dt.datetime) -> None:
    """The provider accepted a message: the run of failures (and any pause) is over."""
    until, known_open = _seen.get(channel, (0.0, True))
    if time.monotonic() < until and not known_open:
        return
    ended = ProviderOutage.objects.filter(channel=channel, ended_at__isnull=True, paused_at__isnull=False).update(
        ended_at=now
    )
    # A few failures that never paused the channel are not an outage worth keeping.
    ProviderOutage.objects.filter(channel=channel, ended_at__isnull=True, paused_at__isnull=True).delete()
    if ended:
        logger.warning("%s: the provider accepts messages again; channel resumed", channel)
    _seen[channel] = (time.monotonic() + _SEEN_FOR, False)


def paused(channel: str, *, now: dt.datetime) -> bool:
    """Whether ``channel`` is paused by an outage (probes aside)."""
    return ProviderOutage.objects.filter(channel=channel, ended_at__isnull=True, paused_at__isnull=False).exists()


def claim_limit(channel: str, *, now: dt.datetime) -> int | None:
    """How many rows the sweeper may claim for ``channel`` now: None (no pause: the usual amount),
    0 (paused, no probe due) or 1 (a probe; the next probe time moves on by compare-and-set, so
    two sweepers never both probe)."""
    row = ProviderOutage.objects.filter(channel=channel, ended_at__isnull=True, paused_at__isnull=False).first()
    if row is None:
        return None
    if row.next_probe_at is not None and row.next_probe_at > now:
        return 0
    later = now + _probe_interval(row.probes)
    moved = ProviderOutage.objects.filter(pk=row.pk, next_probe_at=row.next_probe_at, ended_at__isnull=True).update(
        next_probe_at=later
    )
    return 1 if moved else 0


def _clock(moment: dt.datetime) -> str:
    """10:42 today, else 5 Dec 10:42, in the clinic's zone."""
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b %H:%M}"


def waiting_reason(channel: str, now: dt.datetime) -> str:
    row = _open(channel)
    since = row.first_failure_at if row is not None else now
    return f"Waiting: the provider is not answering (since {_clock(since)}); it goes out when it answers again"


@dataclass(frozen=True)
class Banner:
    channel: str
    text: str
    since: dt.datetime


def banners() -> list[Banner]:
    """What staff are told while channels are paused: "Text messages are delayed: …" (one query)."""
    rows = ProviderOutage.objects.filter(ended_at__isnull=True, paused_at__isnull=False).order_by("first_failure_at")
    found = []
    for row in rows:
        plural, since = spec_for(row.channel).plural, _clock(row.first_failure_at)
        text = f"{plural} are delayed: the provider is not answering since {since}. They go out when it answers again."
        found.append(Banner(row.channel, text, row.first_failure_at))
    return found
