"""The Scheduled view's reads and writes: broadcasts not finished yet, and automated messages waiting.

Reads (selectors)
    :func:`scheduled_page` lists every manual broadcast not finished — not cancelled, with a
    delivery still to go out or going out (scheduled, queued, sending), or with one sent and
    waiting for the provider's report when it went out within :data:`SENT_WATCH` (an e-mail without
    tracking never reports more than "sent": its broadcast would otherwise stay listed for ever) —
    and the automated broadcasts (one per message type and day, ``messaging.automation.planner``)
    with messages waiting (``scheduled`` until their send time, then ``queued``), held ones included.
    Only these broadcasts are counted: one ``EXISTS`` probe of ``delivery_broadcast_idx``
    (broadcast, status) per active broadcast finds them, and one grouped ``COUNT(*)`` over the same
    index counts their deliveries by status (an index-only scan; history is never aggregated).

Writes (services, keyword-only, one transaction each, recorded in Django's admin log)
    :func:`broadcast_reschedule` moves a broadcast that has not started sending (its queued
    deliveries' ``next_attempt_at`` and its ``broadcast_at``); Cancel is
    ``messaging.broadcasts.broadcast_cancel`` with a reason. :func:`automated_hold` keeps waiting
    automated messages back (a ``DeliveryHold`` keeps when each was due; ``next_attempt_at``
    becomes empty, so neither the release nor the sweeper picks the row) and
    :func:`automated_release` lets them go again (at the time they were due, or now if that has passed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from core import clock
from messaging.channels.registry import label as channel_label
from messaging.models import OPEN_STATUSES, Broadcast, Channel, Delivery, DeliveryHold, Status
from messaging.quiet_hours import window_for

# A broadcast stays listed while a delivery is one of these ...
UNFINISHED = (Status.SCHEDULED, Status.QUEUED, Status.SENDING)
# ... which are exactly the statuses from "queued" up to (not including) "sent" in the index's order
# (alphabetical): one range condition on delivery_broadcast_idx finds them with one index descent per
# broadcast, where ``IN`` made PostgreSQL 15 read every index entry of the broadcast (measured: 67 µs
# against 3 µs a broadcast). ``test_the_status_range_is_the_unfinished_statuses`` keeps this true.
UNFINISHED_RANGE = (Status.QUEUED, Status.SENT)
# ... or "sent" (waiting for the provider's report) and the broadcast went out less than this ago.
SENT_WATCH = dt.timedelta(days=1)
# Deliveries past these have started: a broadcast with one can no longer be rescheduled.
STARTED = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.FAILED)
# Waiting automated messages shown for one group (the counts cover all of them).
GROUP_LIMIT = 100


class ActionRefused(ValueError):
    """The action cannot be done on this broadcast or message now; the text says why, for staff."""


# --- Reads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """A broadcast's deliveries by status (scheduled counted as queued: both are still to go out)."""

    by_status: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "queued":
            return self.by_status.get(Status.QUEUED, 0) + self.by_status.get(Status.SCHEDULED, 0)
        return self.by_status.get(name, 0)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def started(self) -> bool:
        return any(self.by_status.get(s, 0) for s in STARTED)

    @property
    def final(self) -> int:
        return self.total - self.queued - self.by_status.get(Status.SENDING, 0) - self.by_status.get(Status.SENT, 0)

    @property
    def done_percent(self) -> int:
        return round(100 * self.final / self.total) if self.total else 100


@dataclass(frozen=True)
class BroadcastRow:
    broadcast: Broadcast
    counts: Counts
    now: dt.datetime

    @property
    def running(self) -> bool:
        """Its time has come (or a message has gone) and not every message is final yet."""
        return self.counts.started or self.broadcast.broadcast_at <= self.now

    @property
    def may_reschedule(self) -> bool:
        return not self.counts.started and self.counts.queued > 0

    @property
    def channel_labels(self) -> str:
        return channel_labels(self.broadcast.channels)


@dataclass(frozen=True)
class Group:
    """Automated messages of one type and day (one automated broadcast) waiting to go out."""

    broadcast: Broadcast
    waiting: int
    held: int

    @property
    def day(self) -> dt.date:
        return self.broadcast.start_date or self.broadcast.broadcast_at.astimezone(clock.clinic_zone()).date()

    @property
    def channel_labels(self) -> str:
        return channel_labels(self.broadcast.channels)


@dataclass(frozen=True)
class ScheduledPage:
    broadcasts: list[BroadcastRow]
    groups: list[Group]


def channel_labels(channels: Iterable[str]) -> str:
    return ", ".join(channel_label(c) for c in channels)


def _listed(now: dt.datetime) -> QuerySet[Broadcast]:
    """Active broadcasts with something unfinished (manual) or waiting (automated)."""

    rows = Delivery.objects.filter(broadcast=OuterRef("pk"))
    unfinished = Exists(rows.filter(status__gte=UNFINISHED_RANGE[0], status__lt=UNFINISHED_RANGE[1]))
    recently_sent = Q(automated=False, broadcast_at__gte=now - SENT_WATCH) & Exists(rows.filter(status=Status.SENT))
    # An automated group only with messages out for sending has nothing waiting: dropped by the caller.
    return (
        Broadcast.objects.filter(state=Broadcast.State.ACTIVE)
        .filter(unfinished | recently_sent)
        .select_related("message_type", "created_by")
        .order_by("broadcast_at", "id")
    )


def _counts(ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries by broadcast and status: ``COUNT(*)`` reads only ``delivery_broadcast_idx``."""
    found: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    if not ids:
        return found
    rows = (
        Delivery.objects.filter(broadcast_id__in=ids)
        .values_list("broadcast_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for broadcast_id, status, n in rows:
        found[broadcast_id][status] = n
    return found


def _held(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = (
        DeliveryHold.objects.filter(
            delivery__broadcast_id__in=ids, delivery__status__in=OPEN_STATUSES, delivery__next_attempt_at__isnull=True
        )
        .values_list("delivery__broadcast_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    return dict(rows)


def scheduled_page(now: dt.datetime | None = None) -> ScheduledPage:
    """Everything the Scheduled view lists, in three queries."""
    now = now or clock.now()
    listed = list(_listed(now))
    counts = _counts([b.pk for b in listed])
    held = _held([b.pk for b in listed if b.automated])
    rows = [BroadcastRow(b, Counts(counts[b.pk]), now) for b in listed if not b.automated]
    groups = [
        Group(b, waiting=Counts(counts[b.pk]).queued, held=held.get(b.pk, 0))
        for b in sorted((b for b in listed if b.automated), key=lambda b: (b.start_date or dt.date.min, b.pk))
    ]
    return ScheduledPage(broadcasts=rows, groups=[g for g in groups if g.waiting])


def broadcast_row(broadcast: Broadcast, now: dt.datetime | None = None) -> BroadcastRow:
    """One listed broadcast, counted again (the polled progress)."""
    return BroadcastRow(broadcast, Counts(_counts([broadcast.pk])[broadcast.pk]), now or clock.now())


def group_messages(broadcast_id: int) -> list[Delivery]:
    """The waiting messages of one automated group (recipients: PHI), first due first, holds with them."""
    rows = (
        Delivery.objects.filter(broadcast_id=broadcast_id, broadcast__automated=True, status__in=OPEN_STATUSES)
        .select_related("hold__held_by")
        .only(
            "id",
            "channel",
            "recipient_name",
            "status",
            "next_attempt_at",
            "client_id",
            "hold__due_at",
            "hold__held_at",
            "hold__reason",
            "hold__held_by__username",
        )  # fmt: skip
        .order_by("next_attempt_at", "id")
    )
    return list(rows[:GROUP_LIMIT])


def hold_of(delivery: Delivery) -> DeliveryHold | None:
    """The delivery's hold while it holds: a row given a time again by another path (the planner
    reviving a cancelled reminder) is no longer held, whatever row is left over."""
    try:
        hold = delivery.hold
    except DeliveryHold.DoesNotExist:
        return None
    return hold if delivery.next_attempt_at is None else None


# --- Reschedule -------------------------------------------------------------------------------------


def a_year_after(day: dt.date) -> dt.date:
    """The same day next year (28 February for 29 February): the latest date a broadcast may go."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def reschedule_error(broadcast: Broadcast, at: dt.datetime, now: dt.datetime | None = None) -> str:
    """Why ``broadcast`` may not go out at ``at`` ("" when it may): the future, within a year, and
    inside the messaging hours of each of its channels that has them, on the clinic's clock."""
    now = now or clock.now()
    zone = clock.clinic_zone()
    if at <= now:
        return "That time has passed. Choose a later date and time."
    if at.astimezone(zone).date() > a_year_after(now.astimezone(zone).date()):
        return "That is more than a year ahead. Choose a date within a year."
    for channel in broadcast.channels:
        window = window_for(channel) if channel in Channel.values else None
        if window is None or window.holds_instant(at, zone):
            continue
        label = channel_label(channel)
        if window.empty:
            return f"{label} messages cannot go out at any time: the messaging hours settings leave no time."
        hours = f"{_clock(window.start)} and {_clock(window.stop)}"
        return f"{label} messages go out only between {hours} (clinic time). Choose a time in those hours."
    return ""


def _clock(moment: dt.time) -> str:
    return dt.datetime.combine(dt.date(2000, 1, 1), moment).strftime("%I:%M %p").lstrip("0")


def broadcast_reschedule(*, broadcast: Broadcast, user: Any, at: dt.datetime) -> int:
    """Move a broadcast that has not started sending to ``at``; returns how many messages moved.

    The queued deliveries move first (a conditional ``UPDATE``: a row the dispatcher claimed
    meanwhile is not touched), then, in the same transaction, a delivery that has started means the
    broadcast is going out already: everything is rolled back and :class:`ActionRefused` raised.
    """
    if broadcast.automated or broadcast.state != Broadcast.State.ACTIVE:
        raise ActionRefused("Only a manual broadcast that has not been cancelled can be rescheduled.")
    why = reschedule_error(broadcast, at)
    if why:
        raise ActionRefused(why)
    now = clock.now()
    with transaction.atomic():
        moved = Delivery.objects.filter(broadcast=broadcast, status=Status.QUEUED).update(
            next_attempt_at=at, updated_at=now
        )
        if Delivery.objects.filter(broadcast=broadcast, status__in=STARTED).exists():
            raise ActionRefused("Sending has started: this broadcast can no longer be rescheduled.")
        if not moved:
            raise ActionRefused("Nothing in this broadcast is waiting to go out.")
        before = broadcast.broadcast_at
        Broadcast.objects.filter(pk=broadcast.pk).update(broadcast_at=at)
        broadcast.broadcast_at = at
        _record(user, broadcast, f"Rescheduled from {_when(before)} to {_when(at)} ({moved} messages)")
    return moved


def _when(at: dt.datetime) -> str:
    return at.astimezone(clock.clinic_zone()).strftime("%Y-%m-%d %H:%M %Z")


def _record(user: Any, broadcast: Broadcast, message: str) -> None:
    """One line in Django's admin log (the broadcast's history in the admin; read-only there)."""
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[broadcast], action_flag=CHANGE, change_message=message[:1000], single_object=True
    )


def record_cancel(*, user: Any, broadcast: Broadcast, count: int) -> None:
    _record(user, broadcast, f"Cancelled from the Scheduled view ({count} messages): {broadcast.cancel_reason}")


# --- Hold and release of automated messages -------------------------------------------------------


def _waiting(broadcast_id: int, delivery_id: int | None) -> QuerySet[Delivery]:
    rows = Delivery.objects.filter(broadcast_id=broadcast_id, broadcast__automated=True, status__in=OPEN_STATUSES)
    return rows.filter(pk=delivery_id) if delivery_id is not None else rows


def automated_hold(*, user: Any, broadcast_id: int, delivery_id: int | None = None, reason: str = "") -> int:
    """Hold the waiting messages of an automated group (or the one ``delivery_id``); returns how many.

    The rows are locked (PostgreSQL) while their due time is copied into the holds, so neither the
    sweeper nor the release moves them half-way; a row claimed or released meanwhile is left alone.
    """
    now = clock.now()
    reason = " ".join(reason.split())[:255]
    with transaction.atomic():
        # A hold left over by a row that was cancelled and revived since (it has a time again) holds nothing.
        DeliveryHold.objects.filter(
            delivery__in=_waiting(broadcast_id, delivery_id).filter(next_attempt_at__isnull=False)
        ).delete()
        targets = list(
            _waiting(broadcast_id, delivery_id)
            .filter(hold__isnull=True)
            .select_for_update(of=("self",))
            .values_list("pk", "next_attempt_at")
        )
        if not targets:
            return 0
        ids = [pk for pk, _ in targets]
        DeliveryHold.objects.bulk_create(
            [DeliveryHold(delivery_id=pk, due_at=due, held_by=user, held_at=now, reason=reason) for pk, due in targets]
        )
        held = Delivery.objects.filter(pk__in=ids, status__in=OPEN_STATUSES).update(
            next_attempt_at=None, updated_at=now
        )
        broadcast = Broadcast.objects.get(pk=broadcast_id)
        which = f"message {delivery_id}" if delivery_id is not None else f"{held} messages"
        _record(user, broadcast, f"Held automated {which}" + (f": {reason}" if reason else ""))
    return held


def automated_release(*, user: Any, broadcast_id: int, delivery_id: int | None = None) -> int:
    """Release held messages of an automated group (or the one ``delivery_id``); returns how many.

    Each goes out when it was due, or now if that time has passed; the holds are deleted (the
    admin log keeps who held and released what).
    """
    now = clock.now()
    with transaction.atomic():
        holds = DeliveryHold.objects.filter(delivery__broadcast_id=broadcast_id, delivery__broadcast__automated=True)
        if delivery_id is not None:
            holds = holds.filter(delivery_id=delivery_id)
        ids = list(holds.select_for_update(of=("self",)).values_list("delivery_id", flat=True))
        if not ids:
            return 0
        rows = Delivery.objects.filter(pk__in=ids, status__in=OPEN_STATUSES, next_attempt_at__isnull=True)
        due_at = DeliveryHold.objects.filter(delivery_id=OuterRef("pk")).values("due_at")[:1]
        later = rows.filter(hold__due_at__gt=now).update(next_attempt_at=Subquery(due_at), updated_at=now)
        released = later + rows.update(next_attempt_at=now, updated_at=now)  # the rest were due already
        DeliveryHold.objects.filter(delivery_id__in=ids).delete()
        broadcast = Broadcast.objects.get(pk=broadcast_id)
        which = f"message {delivery_id}" if delivery_id is not None else f"{released} messages"
        _record(user, broadcast, f"Released automated {which}")
    return released
