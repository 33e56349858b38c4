"""Twilio's errors (SMS and voice): error codes → categories, and twilio-python exceptions → ``TransportError``.

:func:`classify_sms_error` maps a Twilio ``ErrorCode`` (a message's status callback, or a refused
``messages.create`` / ``calls.create``) onto the staff-facing categories of
:mod:`bounces.taxonomy`; unknown codes are Other (soft).
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from twilio.base.exceptions import TwilioRestException

from bounces.taxonomy import Category, Classification, as_int, as_text, make_classification
from messaging.channels.base import TransportError

_C = Category

THROTTLE_CODES = frozenset({20429, 14107, 30022})
# Errors about our own account or request, not about the recipient (Twilio's 20xxx family).
SERVER_STATUSES = frozenset({500, 502, 503, 504})


#: Twilio error code → (category, ours, description).
SMS_ERROR_RULES: dict[int, tuple[Category, bool, str]] = {
    20429: (_C.OTHER, False, "too many requests (HTTP 429): retry with back-off"),
    21211: (_C.BAD_MAILBOX, False, "invalid 'To' number"),
    21212: (_C.BAD_CONFIGURATION, True, "invalid 'From' number"),
    21217: (_C.BAD_MAILBOX, False, "phone number does not appear to be valid"),
    21265: (_C.BAD_MAILBOX, False, "'To' number cannot be a short code"),
    21408: (_C.BAD_CONFIGURATION, True, "geo permission not enabled for the region"),
    21602: (_C.BAD_CONFIGURATION, True, "message body is required"),
    21606: (_C.BAD_CONFIGURATION, True, "'From' number is not SMS-capable"),
    21608: (_C.BAD_CONFIGURATION, True, "trial account: number not verified"),
    21610: (_C.DNS, False, "recipient replied STOP (unsubscribed)"),
    21612: (_C.BAD_MAILBOX, False, "'To' number is not reachable via SMS"),
    21614: (_C.BAD_MAILBOX, False, "'To' number is not a mobile number"),
    21617: (_C.BAD_CONFIGURATION, True, "message body exceeds 1600 characters"),
    21659: (_C.BAD_CONFIGURATION, True, "'From' is not a Twilio number"),
    21660: (_C.BAD_CONFIGURATION, True, "'From' number belongs to another account"),
    30001: (_C.OTHER, False, "queue overflow"),
    30002: (_C.BAD_CONFIGURATION, True, "account suspended"),
    30003: (_C.NO_ANSWER_FROM_HOST, False, "unreachable destination handset"),
    30004: (_C.POLICY_RELATED, False, "message blocked"),
    30005: (_C.BAD_MAILBOX, False, "unknown or inactive destination"),
    30006: (_C.BAD_MAILBOX, False, "landline or unreachable carrier"),
    30007: (_C.CONTENT_RELATED, False, "carrier filtering (spam/content)"),
    30008: (_C.OTHER, False, "unknown error"),
    30009: (_C.BAD_CONNECTION, False, "missing inbound segment"),
    30010: (_C.BAD_CONFIGURATION, True, "message price exceeds max price"),
    30017: (_C.ROUTING_ERRORS, False, "carrier network congestion"),
    30018: (_C.BAD_CONFIGURATION, True, "carrier requires sender ID pre-registration"),
    30019: (_C.CONTENT_RELATED, False, "content size exceeds carrier limit"),
    30022: (_C.OTHER, False, "A2P 10DLC rate limit exceeded"),
    30023: (_C.OTHER, False, "A2P 10DLC daily cap reached"),
    30032: (_C.BAD_CONFIGURATION, True, "toll-free number not verified"),
    30034: (_C.BAD_CONFIGURATION, True, "unregistered A2P 10DLC sender"),
    30036: (_C.MESSAGE_EXPIRED, False, "validity period expired"),
}


def classify_sms_error(error_code: int | str) -> Classification:
    """Classify a Twilio message ``ErrorCode``; unknown codes are Other (soft)."""
    code = as_int(error_code)
    if code is None or code not in SMS_ERROR_RULES:
        return make_classification(_C.OTHER, f"twilio {as_text(error_code) or 'no'} error code (unknown)")
    category, ours, text = SMS_ERROR_RULES[code]
    return make_classification(category, f"twilio {code}: {text}", ours=ours)


def from_twilio_exception(exc: TwilioRestException, classify: Callable[[int | str], Classification]) -> TransportError:
    """A refused create: throttling, a provider outage, or a classified refusal."""
    code = exc.code or 0
    summary = {"http_status": exc.status, "code": exc.code, "message": str(exc.msg)[:300]}
    if exc.status == 429 or code in THROTTLE_CODES:
        return TransportError(
            f"Twilio throttled the request ({code or 429})", throttled=True, code=str(code or 429), response=summary
        )
    if exc.status in SERVER_STATUSES:
        return TransportError(
            f"Twilio answered HTTP {exc.status}", retryable=True, code=str(code or exc.status), response=summary
        )
    classification = classify(code or exc.status)
    return TransportError.refused(
        f"Twilio refused the request: {code} {exc.msg}"[:300],
        classification,
        code=str(code or exc.status),
        response=summary,
    )


def from_network_error(exc: requests.RequestException) -> TransportError:
    """A network failure: retry safely if nothing reached Twilio, otherwise the outcome is unknown."""
    name = type(exc).__name__
    if _not_sent(exc):
        return TransportError(f"Twilio unreachable ({name})", retryable=True, code="network", response={"error": name})
    return TransportError(
        f"No answer from Twilio ({name}); the request may have been accepted",
        ambiguous=True,
        code="network",
        response={"error": name},
    )


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the provider (refused / DNS / connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    text = repr(exc)
    return any(mark in text for mark in ("NewConnectionError", "NameResolutionError", "Connection refused"))
