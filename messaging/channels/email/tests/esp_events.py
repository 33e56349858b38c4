"""What the ESP classification tests share: the recipient, a converter view without its secrets, and
the check of one event's category and hardness."""

from __future__ import annotations

from typing import Any

from anymail.signals import AnymailTrackingEvent

from messaging.channels.email.esp import classify_tracking_event

RCPT = "patient@example.org"


def converter(cls: type) -> Any:
    # the converters only use class attributes; skip __init__ (it wants webhook secrets)
    return cls.__new__(cls)


def expect_classified(event: AnymailTrackingEvent, category: str | None, hard: bool | None = None) -> None:
    result = classify_tracking_event(event)
    if category is None:
        assert result is None
        return
    assert result is not None
    assert (result.category, result.hard) == (category, hard), (event.event_type, result.reason)
