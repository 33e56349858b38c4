"""Test builders for deliveries (helper E's bounce tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from messaging.models import Attempt, Broadcast, Delivery, MessageType

_counter = {"n": 0}


def message_type() -> MessageType:
    existing = MessageType.objects.order_by("id").first()
    if existing is not None:
        return existing
    return MessageType.objects.create(code="test-type", name="Test type")


def make_delivery(
    *,
    channel: str = "email",
    address: str = "",
    status: str = "sent",
    provider_message_id: str = "",
    sent_at: dt.datetime | None = None,
    **fields: Any,
) -> Delivery:
    """A delivery out with the provider (status "sent", attempt 1) unless told otherwise."""
    _counter["n"] += 1
    n = _counter["n"]
    kind = message_type()
    now = sent_at or timezone.now()
    broadcast = Broadcast.objects.create(message_type=kind, broadcast_at=now, channels=[channel])
    if not address:
        address = f"pat{n}@example.org" if channel == "email" else f"+1617555{2000 + n:04d}"
    delivery = Delivery.objects.create(
        broadcast=broadcast,
        message_type=kind,
        channel=channel,
        address=address,
        status=status,
        provider_message_id=provider_message_id,
        attempt_count=1,
        sent_at=now if status in ("sent", "delivered", "failed") else None,
        **fields,
    )
    Attempt.objects.create(delivery=delivery, number=1, provider_message_id=provider_message_id, started_at=now)
    return delivery
