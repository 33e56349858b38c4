"""SMS outcomes: Twilio message error codes."""

from __future__ import annotations

import pytest

from messaging.channels.twilio.errors import classify_sms_error


@pytest.mark.parametrize(
    ("code", "category", "hard", "ours"),
    [
        (21211, "Bad-Mailbox", True, False),  # invalid To number
        (21614, "Bad-Mailbox", True, False),  # not a mobile number
        (21610, "DNS", True, False),  # recipient replied STOP
        (21408, "Bad-Configuration", False, True),  # geo permission: ours
        (30003, "No-Answer-From-Host", False, False),  # unreachable handset
        (30004, "Policy-Related", False, False),  # message blocked
        (30005, "Bad-Mailbox", True, False),  # unknown / inactive destination
        (30006, "Bad-Mailbox", True, False),  # landline or unreachable carrier
        (30007, "Content-Related", False, False),  # carrier filtering
        (30008, "Other", False, False),  # unknown error
        (30034, "Bad-Configuration", False, True),  # unregistered 10DLC sender: ours
        (20429, "Other", False, False),  # rate limited: retry with back-off
        (30032, "Bad-Configuration", False, True),  # toll-free not verified
        (30036, "Message-Expired", False, False),  # validity period expired
        (21606, "Bad-Configuration", False, True),  # From is not SMS-capable
        ("30007", "Content-Related", False, False),  # Twilio posts form fields as strings
        (" 21610 ", "DNS", True, False),
        (30006.0, "Bad-Mailbox", True, False),
        (99999, "Other", False, False),  # unknown code
        ("", "Other", False, False),
        ("abc", "Other", False, False),
        (None, "Other", False, False),
        (True, "Other", False, False),
    ],
)
def test_sms_error_codes(code: object, category: str, hard: bool, ours: bool) -> None:
    result = classify_sms_error(code)  # type: ignore[arg-type]
    assert (result.category, result.hard, result.ours) == (category, hard, ours), result.reason
    assert result.retryable is (not hard)


def test_sms_reason_is_readable() -> None:
    assert classify_sms_error(21610).reason == "twilio 21610: recipient replied STOP (unsubscribed)"
