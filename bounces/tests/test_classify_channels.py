"""SMS (Twilio error codes), voice (Twilio call status) and fax (Sinch / Phaxio) outcomes."""

from __future__ import annotations

import pytest

from bounces.classify import classify_call, classify_fax, classify_sms_error

# --- SMS ------------------------------------------------------------------------------------


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


# --- Voice ----------------------------------------------------------------------------------


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


# --- Fax ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "code", "category", "hard", "ours"),
    [
        ("DOCUMENT_CONVERSION_ERROR", None, "Bad-Configuration", False, True),
        ("DOCUMENT_CONVERSION_ERROR", 17, "Bad-Configuration", False, True),
        ("CALL_ERROR", None, "No-Answer-From-Host", False, False),
        ("LINE_ERROR", None, "Bad-Connection", False, False),
        ("FAX_ERROR", None, "Bad-Connection", False, False),
        ("FATAL_ERROR", None, "Other", False, False),
        ("GENERAL_ERROR", None, "Other", False, False),
        ("CALL_ERROR", 17, "No-Answer-From-Host", False, False),  # busy
        ("CALL_ERROR", "16", "No-Answer-From-Host", False, False),  # ring timeout
        ("CALL_ERROR", 30, "No-Answer-From-Host", False, False),  # no answer
        ("CALL_ERROR", 87, "No-Answer-From-Host", False, False),
        ("CALL_ERROR", 112, "No-Answer-From-Host", False, False),
        ("LINE_ERROR", 15, "Routing-Errors", False, False),  # congestion
        ("LINE_ERROR", 11, "Bad-Connection", False, False),  # call dropped
        ("CALL_ERROR", 34, "Bad-Mailbox", True, False),  # not operational
        ("CALL_ERROR", 49, "Bad-Mailbox", True, False),
        ("CALL_ERROR", 32, "Bad-Mailbox", True, False),  # incompatible destination
        ("CALL_ERROR", 52, "Bad-Mailbox", True, False),  # no route
        ("FAX_ERROR", "Fax handshake failed: no fax tone detected", "Bad-Mailbox", True, False),
        ("FAX_ERROR", "Far end is not a fax machine", "Bad-Mailbox", True, False),
        ("handshake failure", None, "Bad-Mailbox", True, False),
        ("CALL_ERROR", "Line busy", "No-Answer-From-Host", False, False),
        ("CALL_ERROR", 9999, "No-Answer-From-Host", False, False),  # unknown code: the type decides
        ("document-conversion-error", None, "Bad-Configuration", False, True),
        ("", None, "Other", False, False),
        (None, None, "Other", False, False),
    ],
)
def test_fax_outcomes(error_type: str, code: object, category: str, hard: bool, ours: bool) -> None:
    result = classify_fax(error_type, code)  # type: ignore[arg-type]
    assert (result.category, result.hard, result.ours) == (category, hard, ours), result.reason


def test_fax_no_tone_code_is_a_hard_bad_mailbox():
    from bounces.classify import classify_fax

    result = classify_fax("FAX_ERROR", 132)
    assert (result.category, result.hard) == ("Bad-Mailbox", True)
