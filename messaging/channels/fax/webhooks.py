"""The fax API's status callback: ``POST /webhooks/fax/<token>/`` (JSON, ``FAX_COMPLETED``).

Authenticated with HTTP basic auth (``FAX_CALLBACK_USER`` / ``FAX_CALLBACK_PASSWORD``, compared in
constant time): 401 without credentials, 403 with wrong ones, nothing changes in either case.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.channels.fax.errors import classify_fax
from messaging.channels.webhook_support import delivery_for_token, ok
from messaging.models import Status
from messaging.outcomes import delivery_apply_status

FAX_STATUSES = {
    "QUEUED": Status.SENT,
    "IN_PROGRESS": Status.SENT,
    "COMPLETED": Status.DELIVERED,
    "FAILURE": Status.FAILED,
}
# Line problems a redial may get past (busy, no answer, dropped, congestion).
REDIAL_CATEGORIES = {"No-Answer-From-Host", "Bad-Connection", "Routing-Errors"}


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def credentials_valid(user: str, password: str) -> bool:
    expected_user, expected_password = settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD
    if not expected_user or not expected_password:
        return False
    user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
    password_ok = hmac.compare_digest(password.encode(), expected_password.encode())
    return user_ok and password_ok


def unauthorized() -> HttpResponse:
    response = HttpResponse("Authentication required", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Basic realm="fax callbacks"'
    return response


@csrf_exempt
@require_POST
def fax_status(request: HttpRequest, token: str) -> HttpResponse:
    credentials = _credentials(request)
    if credentials is None:
        return unauthorized()
    if not credentials_valid(*credentials):
        return HttpResponseForbidden("Invalid credentials", content_type="text/plain")
    event = _json_body(request)
    if event is None:
        return HttpResponseBadRequest("Expected a JSON body", content_type="text/plain")
    fax = event.get("fax") if isinstance(event, dict) else None
    if not isinstance(fax, dict):
        return HttpResponseBadRequest("Expected a fax object", content_type="text/plain")
    delivery = delivery_for_token(token, "fax")
    if delivery is not None:
        apply_fax_event(delivery.pk, event, fax)
    return ok()


def _json_body(request: HttpRequest) -> Any | None:
    """The body as JSON the database can store (it is kept as the event's payload), else None: not
    JSON or not UTF-8, nested too deep, NaN / Infinity, or a NUL character (PostgreSQL's jsonb)."""
    try:
        event = json.loads(request.body or b"{}")
        stored = json.dumps(event, allow_nan=False)
    except (ValueError, RecursionError):
        return None
    return None if "\\u0000" in stored else event


def apply_fax_event(delivery_id: int, event: dict[str, Any], fax: dict[str, Any]) -> bool:
    fax_status = str(fax.get("status") or "").upper()
    status = FAX_STATUSES.get(fax_status)
    fax_id = str(fax.get("id") or "")
    if status is None or not fax_id:
        return False
    classification, redial = None, False
    if status == Status.FAILED:
        code = fax.get("errorCode")
        classification = classify_fax(
            str(fax.get("errorType") or ""), code if code is not None else fax.get("errorMessage")
        )
        redial = str(classification.category) in REDIAL_CATEGORIES
    return delivery_apply_status(
        delivery_id=delivery_id,
        status=status,
        provider="fax",
        event_id=f"{fax_id}:{event.get('event', 'FAX')}:{fax_status}",
        event_type=str(event.get("event") or "fax")[:64],
        payload=event,
        classification=classification,
        provider_message_id=fax_id,
        redial=redial,
    )
