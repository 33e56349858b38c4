"""Request middleware of the project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.cache import patch_cache_control

# Session key holding when the session's expiry was last pushed forward (Unix seconds).
REFRESHED_KEY = "_idle_refreshed_at"
# Sent by requests a page makes by itself (htmx polling: hx-headers in the templates).
BACKGROUND_HEADER = "X-Background-Poll"


def _to_login_when_ended(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An htmx request (a poll, or a click) whose session ended was redirected to the login page:
    have htmx take the whole page there (HX-Redirect), back to this screen after signing in, instead
    of swapping the login form into a box of the page; a message says why."""
    login = resolve_url(settings.LOGIN_URL)
    location = response.get("Location", "") if response.status_code in (301, 302) else ""
    if not location.startswith(login):
        return response
    page = request.headers.get("HX-Current-URL", "")
    target = login + (f"?next={quote(urlsplit(page).path)}" if page else "")
    return HttpResponse(status=204, headers={"HX-Redirect": target + ("&" if page else "?") + "ended=1"})


class IdleSessionRefreshMiddleware:
    """The idle log-off (HIPAA): any request of a live session pushes its expiry forward.

    The session ends ``SESSION_COOKIE_AGE`` seconds after it was last refreshed. Instead of saving the
    session on every request (``SESSION_SAVE_EVERY_REQUEST``: one database write per request), the
    expiry is refreshed only when the last refresh is at least ``SESSION_REFRESH_SECONDS`` old, by
    marking the session modified so that ``SessionMiddleware`` saves it and re-sends its cookie. An
    idle session therefore ends between ``SESSION_COOKIE_AGE - SESSION_REFRESH_SECONDS`` and
    ``SESSION_COOKIE_AGE`` seconds after its last request: never later than the idle limit.

    Goes right after ``SessionMiddleware``. Requests without a session cookie, and cookies of ended
    or unknown sessions, are left alone (no session is created for them).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if request.headers.get(BACKGROUND_HEADER) == "1":
            # A screen polling by itself (a broadcast's progress) is not the user being active: it
            # never pushes the idle log-off back; once the session ends the page goes to the login.
            return _to_login_when_ended(request, self.get_response(request))
        if request.headers.get("HX-Request") == "true":  # an htmx action of the user
            return _to_login_when_ended(request, self._refreshed(request, session))
        return self._refreshed(request, session)

    def _refreshed(self, request: HttpRequest, session: Any) -> HttpResponse:
        if session is not None and session.session_key is not None:
            last = session.get(REFRESHED_KEY)  # loads the session (the authentication needs it anyway)
            if session.session_key is not None:  # still a live session once loaded
                now = int(timezone.now().timestamp())
                if not isinstance(last, int) or not 0 <= now - last < settings.SESSION_REFRESH_SECONDS:
                    session[REFRESHED_KEY] = now  # modified: saved with a new expiry, cookie re-sent
        return self.get_response(request)


# Browser features no screen of the product uses (playing a recording needs none of them).
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


class PrivatePagesMiddleware:
    """Headers every response gets (issue 13, row 9): ``Permissions-Policy``; and for a signed-in
    user (staff or portal) ``Cache-Control: no-store, private``, so PHI pages and the CSV export are
    never kept by a browser's or a proxy's cache. Goes after ``AuthenticationMiddleware``.
    (Content-Security-Policy comes from Django's own ``ContentSecurityPolicyMiddleware``.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True, no_cache=True, max_age=0)
        return response


# Paths that are not the staff site: provider callbacks, the e-mail unsubscribe link, health check, icon.
NOT_STAFF_PATHS = ("/webhooks/", "/anymail/", "/bounces/unsubscribe/", "/healthz", "/favicon.ico")


class PortalUsersStayInThePortalMiddleware:
    """A client portal account (active or not, even one wrongly made staff or given permissions) never
    sees a staff page: on any path but the portal's, static files, provider webhooks and the unsubscribe
    link it is sent to the portal inbox (an htmx request: the whole page, by ``HX-Redirect``). The staff
    login already refuses these accounts; this covers a session opened at ``/portal/login/``.

    Costs no query: the authentication backend reads the user's portal account (or that there is none)
    with the user (``OneQueryPermissionsBackend.get_user``). Goes after ``AuthenticationMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not _is_staff_path(request.path):
            return self.get_response(request)
        if not _has_portal_account(user):
            return self.get_response(request)
        inbox = resolve_url("portal:inbox")
        if request.headers.get("HX-Request") == "true":
            return HttpResponse(status=204, headers={"HX-Redirect": inbox})
        return HttpResponseRedirect(inbox)


def _is_staff_path(path: str) -> bool:
    exempt = (resolve_url("portal:inbox"), "/" + settings.STATIC_URL.lstrip("/"), *NOT_STAFF_PATHS)
    return not path.startswith(exempt)


def _has_portal_account(user: Any) -> bool:
    """As ``pimsy_messaging.logins.is_portal_user``, from the account read with the user when it was."""
    try:
        user.portal_account  # noqa: B018  (loaded with the user; a query only for a user loaded otherwise)
    except ObjectDoesNotExist:
        return False
    return True
