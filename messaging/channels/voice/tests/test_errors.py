"""Voice outcomes: Twilio call status and AnsweredBy."""

from __future__ import annotations

import pytest

from messaging.channels.voice.errors import classify_call


@pytest.mark.parametrize(
    ("status", "answered_by", "expected"),
    [
        ("completed", None, None),
        ("completed", "human", None),
        ("completed", "machine_end_beep", None),  # voicemail left: delivered
        ("completed", "unknown", None),
        ("in-progress", None, None),
        ("ringing", None, None),
        ("queued", None, None),
        ("busy", None, ("No-Answer-From-Host", False)),
        ("no-answer", None, ("No-Answer-From-Host", False)),
        ("no_answer", None, ("No-Answer-From-Host", False)),
        ("NO-ANSWER", None, ("No-Answer-From-Host", False)),
        ("failed", None, ("Bad-Mailbox", True)),
        ("canceled", None, ("Other", False)),
        ("cancelled", None, ("Other", False)),
        ("completed", "fax", ("Bad-Mailbox", True)),
        ("in-progress", "fax", ("Bad-Mailbox", True)),
        ("exploded", None, ("Other", False)),
        ("", None, ("Other", False)),
    ],
)
def test_call_outcomes(status: str, answered_by: str | None, expected: tuple[str, bool] | None) -> None:
    result = classify_call(status, answered_by)
    if expected is None:
        assert result is None
    else:
        assert result is not None
        assert (result.category, result.hard) == expected, result.reason
