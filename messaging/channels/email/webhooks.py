"""The e-mail channel's ESP webhooks (``/anymail/<esp>/tracking/``, ``/inbound/``), failing closed.

anymail's own views verify the ESP's signature where it has one and turn the payload into
normalised events that ``on_tracking`` / ``on_inbound`` receive. Around each of them this module
adds what anymail leaves open:

* **Basic auth with** ``ANYMAIL["WEBHOOK_SECRET"]`` **is required.** Without a configured secret
  every request is refused (anymail alone would accept anyone, with only a warning): 401 without
  credentials, 403 with wrong ones, like the fax callback. HEAD and OPTIONS (an ESP checking the
  URL) answer without credentials and change nothing.
* **Only the configured endpoints are mounted** (:func:`configured_endpoints`): the tracking
  webhook of the ESP ``EMAIL_BACKEND`` sends through, and what ``ANYMAIL_WEBHOOK_ESPS`` lists
  (``esp`` for both kinds, ``esp:tracking`` or ``esp:inbound`` for one; e.g. ``postmark:inbound``
  for the bounces of self-hosted SMTP). Every other ``/anymail/…`` address is a 404.
* **A payload anymail cannot read gets 400 and one log line** (anymail lets ``JSONDecodeError``,
  ``KeyError`` … become a 500 with a traceback); a failed ESP signature gets 403. A request's
  events are applied in one transaction, so a rejected request changes nothing.

Nothing of the payload is logged (it carries addresses): only the ESP, the kind of webhook and the
exception's type.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Callable
from email.errors import MessageError
from typing import Any

from anymail import signals as anymail_signals
from anymail import urls as anymail_urls
from anymail.exceptions import AnymailConfigurationError, AnymailError, AnymailWebhookValidationFailure
from anymail.webhooks.base import AnymailCoreWebhookView
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

#: Methods an ESP uses to check that the URL exists; anymail answers them without doing anything.
UNAUTHENTICATED_METHODS = frozenset({"HEAD", "OPTIONS"})
#: What anymail's parsers raise on a payload they cannot read (AnymailConfigurationError: e.g. an
#: inbound payload posted to a tracking URL; RecursionError: JSON nested too deep).
PAYLOAD_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,  # anymail's Mandrill view asserts one batch does not mix tracking and inbound
    RecursionError,
    MessageError,
    AnymailError,
    AnymailConfigurationError,
)
_BACKEND_RE = re.compile(r"^anymail\.backends\.(\w+)\.")


# --- Which ESPs are mounted ------------------------------------------------------------------------


def esp_of(pattern: URLPattern) -> str:
    """The ESP an anymail URL pattern belongs to: its first path segment (``mailgun``, ``amazon_ses``)."""
    return str(pattern.pattern).lstrip("^").split("/", 1)[0]


def available_esps() -> frozenset[str]:
    """Every ESP anymail has webhooks for."""
    return frozenset(esp_of(p) for p in anymail_urls.urlpatterns)


def listed_endpoints() -> list[tuple[str, str]]:
    """``ANYMAIL_WEBHOOK_ESPS`` as (esp, kind) pairs, kind "" for both: ``postmark:inbound,sparkpost``."""
    raw = _anymail_settings().get("WEBHOOK_ESPS") or ()
    entries = raw.split(",") if isinstance(raw, str) else [str(x) for x in raw]
    pairs = [entry.strip().lower().partition(":") for entry in entries if entry.strip()]
    return [(esp.strip(), kind.strip()) for esp, _, kind in pairs]


def configured_endpoints() -> frozenset[tuple[str, str]]:
    """What is mounted: ``EMAIL_BACKEND``'s ESP's tracking webhook (its bounces and complaints) and
    what ``ANYMAIL_WEBHOOK_ESPS`` lists (e.g. an inbound route for the bounces of plain SMTP)."""
    endpoints = set(listed_endpoints())
    backend = _BACKEND_RE.match(str(getattr(settings, "EMAIL_BACKEND", "")))
    if backend:
        endpoints.add((backend.group(1), "tracking"))
    return frozenset(endpoints)


def mounted_patterns() -> list[URLPattern]:
    """anymail's own URL patterns of the configured endpoints, unwrapped."""
    wanted = configured_endpoints()
    return [p for p in anymail_urls.urlpatterns if _is_wanted(p, wanted)]


def _is_wanted(pattern: URLPattern, wanted: frozenset[tuple[str, str]]) -> bool:
    esp, kinds = esp_of(pattern), kind_of(view_class_of(pattern)[0]).split("/")
    return (esp, "") in wanted or any((esp, kind) in wanted for kind in kinds)


def webhook_urlpatterns() -> list[URLPattern]:
    """The ``/anymail/`` URL patterns to mount: the configured endpoints only, each behind :func:`protect`."""
    return [_protected(p) for p in mounted_patterns()]


def view_class_of(pattern: URLPattern) -> tuple[type[AnymailCoreWebhookView], dict[str, Any]]:
    callback: Any = pattern.callback
    return callback.view_class, dict(callback.view_initkwargs)


def _protected(pattern: URLPattern) -> URLPattern:
    view_class, initkwargs = view_class_of(pattern)
    view = protect(guarded(view_class).as_view(**initkwargs), esp=esp_of(pattern), kind=kind_of(view_class))
    return URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)


def kind_of(view_class: type[AnymailCoreWebhookView]) -> str:
    kinds = {anymail_signals.tracking: "tracking", anymail_signals.inbound: "inbound"}
    return kinds.get(view_class.signal, "tracking/inbound")  # type: ignore[arg-type]  # Mandrill's: both


# --- Basic auth ----------------------------------------------------------------------------------------


def webhook_secrets() -> list[str]:
    """The configured ``user:password`` pairs (``ANYMAIL_WEBHOOK_SECRET``; several during a rotation)."""
    raw = _anymail_settings().get("WEBHOOK_SECRET") or []
    secrets = [raw] if isinstance(raw, str) else [str(x) for x in raw]
    return [s for s in secrets if s and ":" in s]


def _request_credentials(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, data = header.partition(" ")
    if scheme.lower() != "basic" or not data.strip():
        return None
    try:
        return base64.b64decode(data.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def auth_refusal(request: HttpRequest, *, esp: str, kind: str) -> HttpResponse | None:
    """401 without credentials, 403 with wrong ones (or when no secret is configured); else None."""
    credentials = _request_credentials(request)
    if credentials is None:
        response = HttpResponse("Authentication required", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Basic realm="e-mail webhooks"'
        # Amazon SNS posts without credentials until it gets this 401: not worth a warning.
        return _logged(response, "refused an e-mail %s webhook (%s) without credentials", kind, esp, level=logging.INFO)
    # Every secret is compared (constant time), so the answer's timing does not tell which matched.
    matches = [constant_time_compare(credentials, secret) for secret in webhook_secrets()]
    if any(matches):
        return None
    response = HttpResponse("Invalid credentials", status=403, content_type="text/plain")
    return _logged(response, "refused an e-mail %s webhook (%s) with wrong credentials", kind, esp)


# --- The wrapped views -------------------------------------------------------------------------------------


class BadPayload(Exception):
    """anymail could not read the ESP's payload."""


def guarded(view_class: type[AnymailCoreWebhookView]) -> type[AnymailCoreWebhookView]:
    """``view_class`` whose POST validates, parses every event, and only then applies them, in one
    transaction; an unreadable payload raises :class:`BadPayload` instead of anything else."""

    def post(self: AnymailCoreWebhookView, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The same steps as anymail's AnymailCoreWebhookView.post; parsing (which may call the ESP,
        # e.g. to confirm an Amazon SNS subscription) happens before the transaction opens.
        try:
            self.run_validators(request)
            events = list(self.parse_events(request))
        except AnymailWebhookValidationFailure:
            raise
        except PAYLOAD_ERRORS as exc:
            raise BadPayload(type(exc).__name__) from exc
        try:
            with transaction.atomic():
                for event in events:
                    self.signal.send(sender=view_class, event=event, esp_name=self.esp_name)
        except (*PAYLOAD_ERRORS, DataError) as exc:  # fields not as anymail promises, or unstorable (NUL, NaN)
            raise BadPayload(type(exc).__name__) from exc
        return HttpResponse()

    return type(view_class.__name__, (view_class,), {"post": post, "__module__": __name__})


def protect(view: Callable[..., HttpResponse], *, esp: str, kind: str) -> Callable[..., HttpResponse]:
    """Basic auth first (before anymail builds its view), then anymail's view; errors become 4xx."""

    @csrf_exempt
    @login_not_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in UNAUTHENTICATED_METHODS:
            refusal = auth_refusal(request, esp=esp, kind=kind)
            if refusal is not None:
                return refusal
        try:
            return view(request, *args, **kwargs)
        except AnymailWebhookValidationFailure:
            response = HttpResponse("Invalid signature", status=403, content_type="text/plain")
            return _logged(response, "refused an e-mail %s webhook (%s): invalid ESP signature", kind, esp)
        except BadPayload as exc:
            response = HttpResponse("Unreadable payload", status=400, content_type="text/plain")
            return _logged(response, "rejected an e-mail %s webhook (%s): unreadable payload (%s)", kind, esp, exc)
        except AnymailConfigurationError as exc:  # building the view: reported at start-up by the checks
            response = HttpResponse("Webhook not configured", status=503, content_type="text/plain")
            message = "e-mail %s webhook (%s) is not configured (%s)"
            return _logged(response, message, kind, esp, type(exc).__name__, level=logging.ERROR)

    return wrapper


def _logged(response: HttpResponse, message: str, *args: object, level: int = logging.WARNING) -> HttpResponse:
    """Log one line and mark the response logged, so django.request does not add a second one."""
    logger.log(level, message, *args)
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log.log_response
    return response


def _anymail_settings() -> dict[str, Any]:
    value = getattr(settings, "ANYMAIL", None)
    return value if isinstance(value, dict) else {}
