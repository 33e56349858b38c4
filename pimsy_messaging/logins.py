"""Logins: throttling and lockout (django-axes), their log lines and lockout page.

django-axes' authentication backend refuses a locked-out login before any password is checked, on
every login that authenticates with the request (the staff login, the admin's, the client portal's).
Its database handler records failures in ``AccessAttempt`` rows (Administration › Axes; deleting a
user's rows unlocks them). ``LoginThrottle`` adds to it:

* two limits: a user is locked out after ``AXES_FAILURE_LIMIT`` failures, an address after
  ``LOGIN_FAILURES_PER_IP`` (larger: a clinic's staff often share one address), both within
  ``AXES_COOLOFF_TIME``, which is also how long a lockout lasts;
* a successful login forgets that user's failures only, not other usernames' from the same address;
* one log line per failure and per lockout: the user's id (never the typed name), the address and
  the login page. Never the password.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clients.models import PortalAccount
from core.web import client_ip as client_ip  # AXES_CLIENT_IP_CALLABLE; the access log uses it too

log = logging.getLogger(__name__)

LOCKOUT_TEMPLATE = "registration/locked_out.html"


def _failures(attempts: QuerySet[AccessAttempt]) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def _user_ref(username: str | None) -> str:
    """``user id 42`` or ``unknown user``: the typed name may be anything (a client's e-mail address)."""
    if not username:
        return "unknown user"
    user_model = get_user_model()
    pk = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).values_list("pk", flat=True)
    found = pk.first()
    return f"user id {found}" if found is not None else "unknown user"


class LoginThrottle(AxesDatabaseHandler):
    """axes' database handler with a per-user and a larger per-address limit, and a log line per failure."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """Failures measured against ``AXES_FAILURE_LIMIT``: the user's own, or the address's beyond its
        extra allowance (``LOGIN_FAILURES_PER_IP`` - ``AXES_FAILURE_LIMIT``), whichever is more."""
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        username = get_client_username(request, credentials)
        per_user = _failures(recent.filter(username=username)) if username else 0
        per_address = _failures(recent.filter(ip_address=request.axes_ip_address))  # type: ignore[attr-defined]
        allowance = max(0, settings.LOGIN_FAILURES_PER_IP - settings.AXES_FAILURE_LIMIT)
        return max(per_user, per_address - allowance)

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """After a successful login: forget this user's failures (other names tried from the address stay)."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None or not hasattr(request, "axes_ip_address"):
            return
        who = _user_ref(get_client_username(request, credentials))
        where = f"from {request.axes_ip_address} at {request.axes_path_info}"
        log.warning("Login failed: %s %s (%s recent failures)", who, where, request.axes_failures_since_start)
        if request.axes_locked_out:
            minutes = _lockout_minutes(request)
            log.warning("Login locked out: %s %s for %s minutes", who, where, minutes)


def _lockout_minutes(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds() // 60) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The lockout page (HTTP 429), in the client portal's frame for the portal login."""
    match = getattr(request, "resolver_match", None)
    portal = match is not None and match.namespace == "portal"
    context = {
        "base_template": "portal/base.html" if portal else "base.html",
        "portal": portal,
        "minutes": _lockout_minutes(request),
        "login_url": request.path,
    }
    return render(request, LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)


# axes keeps the typed name in 255-character columns: a longer one (no account has one, user names have at
# most 150) is cut to fit, or PostgreSQL refuses the failure's row and the login page answers 500.
USERNAME_COLUMN = AccessAttempt._meta.get_field("username").max_length or 255


def client_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the typed user name (from the credentials, else the posted form), cut to fit."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    username = source.get(settings.AXES_USERNAME_FORM_FIELD, None)
    return username[:USERNAME_COLUMN] if isinstance(username, str) else username


def is_portal_user(user: Any) -> bool:
    """The user has a client portal account (active or not): they belong to the portal, not the staff site."""
    return bool(getattr(user, "is_authenticated", False)) and PortalAccount.objects.filter(user=user).exists()
