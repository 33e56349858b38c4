"""Request middleware of the project."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# Session key holding when the session's expiry was last pushed forward (Unix seconds).
REFRESHED_KEY = "_idle_refreshed_at"


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
        if session is not None and session.session_key is not None:
            last = session.get(REFRESHED_KEY)  # loads the session (the authentication needs it anyway)
            if session.session_key is not None:  # still a live session once loaded
                now = int(timezone.now().timestamp())
                if not isinstance(last, int) or not 0 <= now - last < settings.SESSION_REFRESH_SECONDS:
                    session[REFRESHED_KEY] = now  # modified: saved with a new expiry, cookie re-sent
        return self.get_response(request)
