"""Turning twilio-python errors into :class:`~messaging.channels.base.TransportError` (SMS and voice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import requests
from twilio.base.exceptions import TwilioRestException

from messaging.channels.base import TransportError

if TYPE_CHECKING:
    from bounces.classify import Classification

THROTTLE_CODES = frozenset({20429, 14107, 30022})
# Errors about our own account or request, not about the recipient (Twilio's 20xxx family).
SERVER_STATUSES = frozenset({500, 502, 503, 504})


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
