"""One delivery as its detail page shows it (History › Delivery): every attempt and provider event in one
timeline, its status in the screens' one vocabulary, and its failure in its channel's words.

Times are the clinic's (labelled on the page); the recipient's own zone is named where it differs.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from core import clock
from messaging.explanations import NONE, Explanation, explain
from messaging.models import Attempt, Delivery, ProviderEvent
from messaging.status_words import (
    StatusWords,
    attempts_summary,
    clinic_times,
    clinic_when,
    status_words,
    when,
    zone_name,
)


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # created / attempt / event / finished / due
    title: str
    detail: str = ""
    payload: Any = None


@dataclass
class DeliveryDetail:
    delivery: Delivery
    attempts: list[Attempt]
    events: list[ProviderEvent]
    timeline: list[TimelineEntry]
    status: StatusWords | None = None  # label, reason and badge (messaging.status_words)
    explanation: Explanation = NONE  # its failure category in its channel's words
    attempts_made: str = ""  # "2: the first attempt and 1 redial"
    next_due: str = ""  # "Mon Dec 7, 9:00 AM clinic time" while another attempt is to come
    clinic_zone: str = ""  # "America/New York": the zone every time on the page is told in
    client_zone: str = ""  # the recipient's zone when it is not the clinic's ("America/Los Angeles")
    next_due_client: str = ""  # the next attempt on the client's clock, when that differs
    appointment_client: str = ""  # the appointment on the client's clock, when that differs


_JOINS = (
    "message_type",
    "broadcast",
    "broadcast__created_by",
    "client",
    "user",
    "appointment",
    "content",
    "template_version",
)
_ORDER = {"created": 0, "attempt": 1, "event": 2, "finished": 3, "due": 4}


def delivery_detail(pk: int) -> DeliveryDetail:
    """A delivery with every attempt and provider event, and one timeline of all of them in order."""
    delivery = Delivery.objects.select_related(*_JOINS).get(pk=pk)
    attempts = list(Attempt.objects.filter(delivery=delivery).order_by("number", "id"))
    events = list(ProviderEvent.objects.filter(delivery=delivery).order_by("received_at", "id"))
    now = clock.now()
    words = status_words(
        status=delivery.status,
        reason=delivery.status_reason,
        next_attempt_at=delivery.next_attempt_at,
        attempt_count=delivery.attempt_count,
        now=now,
    )
    timeline = [TimelineEntry(delivery.created_at, "created", "Created", f"Broadcast #{delivery.broadcast_id}")]
    timeline += [_attempt_entry(attempt) for attempt in attempts]
    timeline += [_event_entry(event) for event in events]
    if delivery.finished_at and delivery.is_final:
        final = f"Final: {words.label}"
        timeline.append(TimelineEntry(delivery.finished_at, "finished", final, clinic_times(delivery.status_reason)))
    due = delivery.next_attempt_at if not delivery.is_final else None
    if due is not None:
        timeline.append(TimelineEntry(due, "due", _due_title(attempts), words.reason))
    timeline.sort(key=lambda e: (e.at, _ORDER[e.kind]))
    zone = _other_zone(delivery)
    return DeliveryDetail(
        delivery=delivery,
        attempts=attempts,
        events=events,
        timeline=timeline,
        status=words,
        explanation=explain(delivery.bounce_category, delivery.channel, delivery.error_code),
        attempts_made=attempts_summary((a.kind for a in attempts), delivery.attempt_count),
        next_due=clinic_when(due, now=now) if due else "",
        clinic_zone=zone_name(clock.clinic_zone()),
        client_zone=zone_name(zone) if zone else "",
        next_due_client=when(due, zone, now=now) if zone and due else "",
        appointment_client=when(delivery.appointment.start, zone, now=now) if zone and delivery.appointment else "",
    )


def _attempt_entry(attempt: Attempt) -> TimelineEntry:
    outcome = attempt.outcome or "in progress"
    detail = " ".join(p for p in (attempt.error_code, attempt.error_detail) if p)
    title = f"Attempt {attempt.number} ({attempt.get_kind_display()}): {outcome}"
    return TimelineEntry(attempt.started_at, "attempt", title, detail, attempt.response or None)


def _event_entry(event: ProviderEvent) -> TimelineEntry:
    title = f"{event.provider} {event.event_type or 'event'}" + (f": {event.status}" if event.status else "")
    return TimelineEntry(
        event.received_at, "event", title, "" if event.applied else "not applied", event.payload or None
    )


def _due_title(attempts: list[Attempt]) -> str:
    return "Next attempt due" if attempts else "First attempt due"


def _other_zone(delivery: Delivery) -> zoneinfo.ZoneInfo | None:
    """The client's time zone when its clock differs from the clinic's (None otherwise)."""
    zone = _recipient_zone(delivery)
    clinic = clock.clinic_zone()
    if zone is None or zone.key == clinic.key:
        return None
    now = clock.now()
    return None if now.astimezone(zone).utcoffset() == now.astimezone(clinic).utcoffset() else zone


def _recipient_zone(delivery: Delivery) -> zoneinfo.ZoneInfo | None:
    if delivery.client_id is not None and delivery.client is not None:
        return delivery.client.zone
    return None
