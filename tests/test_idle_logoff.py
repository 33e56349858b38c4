"""The idle log-off (HIPAA): a session idle for SESSION_COOKIE_AGE ends; activity keeps it alive, and
its expiry is written at most once per SESSION_REFRESH_SECONDS (not on every request)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pimsy_messaging.middleware import REFRESHED_KEY

AGE = 30 * 60
REFRESH = 60

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("_session_settings"),
]


@pytest.fixture
def _session_settings(settings):  # pytest-django's fixture: restored after the test
    settings.SESSION_COOKIE_AGE = AGE
    settings.SESSION_REFRESH_SECONDS = REFRESH


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now()

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    """Every ``django.utils.timezone.now()`` (session expiry, session look-up, the middleware) reads this."""
    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


@pytest.fixture
def viewer(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw-123456")
    user.user_permissions.set(Permission.objects.filter(codename="view_history"))
    client.force_login(user)
    return user


def _history(client):
    return client.get(reverse("messaging:history"), HTTP_HX_REQUEST="true")


def _logged_out(response) -> bool:
    """Sent to the login: a redirect, or for an htmx request the whole page (HX-Redirect)."""
    if response.status_code == 204:
        return response["HX-Redirect"].startswith(reverse("login")) and "ended=1" in response["HX-Redirect"]
    return response.status_code == 302 and reverse("login") in response["Location"]


def _expiry(client) -> dt.datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def _cookie_sent(response) -> bool:
    return settings.SESSION_COOKIE_NAME in response.cookies


def _session_writes(ctx) -> int:
    return sum("django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT") for q in ctx)


def test_idle_session_is_logged_out(client, viewer, clock):
    assert _history(client).status_code == 200
    clock.advance(AGE + 1)
    assert _logged_out(_history(client))


def test_expiry_is_written_at_most_once_per_interval(client, viewer, clock):
    assert _history(client).status_code == 200  # first request: the refresh time is recorded
    first = _expiry(client)
    assert first == clock.now + dt.timedelta(seconds=AGE)

    clock.advance(REFRESH - 1)
    with CaptureQueriesContext(connection) as ctx:
        response = _history(client)
    assert response.status_code == 200
    assert _session_writes(ctx) == 0 and not _cookie_sent(response)
    assert _expiry(client) == first

    clock.advance(1)  # the last refresh is now REFRESH seconds old
    with CaptureQueriesContext(connection) as ctx:
        response = _history(client)
    assert response.status_code == 200 and _session_writes(ctx) == 1 and _cookie_sent(response)
    assert _expiry(client) == clock.now + dt.timedelta(seconds=AGE)
    assert client.session[REFRESHED_KEY] == int(clock.now.timestamp())


def test_activity_keeps_the_session_alive_and_idleness_still_ends_it(client, viewer, clock):
    for _ in range(2 * AGE // 50):  # a request every 50 s for twice the idle limit
        assert _history(client).status_code == 200
        clock.advance(50)
    clock.advance(AGE - 50 + 1)  # idle for the limit (and a second) since the last request
    assert _logged_out(_history(client))


def test_an_idle_session_ends_at_most_one_interval_early(client, viewer, clock):
    assert _history(client).status_code == 200  # refresh at t0
    clock.advance(REFRESH - 1)
    assert _history(client).status_code == 200  # last request at t0 + 59 s: no refresh
    clock.advance(AGE - REFRESH)  # t0 + AGE - 1: idle AGE - 59 s, session still valid
    assert _history(client).status_code == 200  # and this request refreshes it
    clock.advance(AGE + 1)
    assert _logged_out(_history(client))


def test_logout_ends_the_session_and_the_refresh_does_not_revive_it(client, viewer, clock):
    assert _history(client).status_code == 200
    clock.advance(REFRESH + 1)  # the next request would refresh the expiry
    client.post(reverse("logout"))
    assert not Session.objects.exists()
    assert _logged_out(_history(client))
    assert not Session.objects.exists()


def test_no_session_is_created_for_requests_without_one(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and not response.cookies and not Session.objects.exists()
    client.cookies["sessionid"] = "unknown-or-ended-session-key"
    response = client.get("/healthz")
    assert response.status_code == 200 and not Session.objects.exists()
