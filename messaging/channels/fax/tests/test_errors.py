"""Fax outcomes: Sinch errorType and Phaxio-style line codes."""

from __future__ import annotations

import pytest

from messaging.channels.fax.errors import classify_fax


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
    result = classify_fax("FAX_ERROR", 132)
    assert (result.category, result.hard) == ("Bad-Mailbox", True)
