"""Authenticating Twilio's webhooks: ``X-Twilio-Signature`` over the exact public URL Twilio called.

Twilio signs the URL it requested (scheme, host, port, path and query) plus the POSTed form
fields with the account's auth token. Behind a reverse proxy the URL Django sees differs from
the public one, so the URL is rebuilt from ``PUBLIC_BASE_URL`` and the request's full path.

    @twilio_signature_required
    def my_webhook(request, ...): ...

A request without a valid signature gets 403 and the view never runs (no state changes).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def public_request_url(request: HttpRequest) -> str:
    """The URL Twilio called: the configured public base URL + path and query as received."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def signature_is_valid(request: HttpRequest) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    params: Any = request.POST if request.method == "POST" else {}
    algorithm = _algorithm(request.headers.get(SETTINGS_HEADER, ""))
    try:
        return validator.validate(public_request_url(request), params, signature, algorithm=algorithm)
    except TypeError:  # an older twilio without the algorithm parameter
        return validator.validate(public_request_url(request), params, signature)


def _algorithm(header: str) -> str | None:
    try:
        from twilio.request_validator import get_signature_algorithm
    except ImportError:  # pragma: no cover - older twilio
        return None
    return get_signature_algorithm(header)


def twilio_signature_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Reject (403) any request whose X-Twilio-Signature does not match; CSRF-exempt otherwise."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not signature_is_valid(request):
            logger.warning("rejected a Twilio webhook (%s) with a missing or invalid signature", view.__name__)
            return HttpResponseForbidden("Invalid Twilio signature", content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapper
