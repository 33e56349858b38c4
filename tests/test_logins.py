"""Login throttling and lockout (django-axes), failure logs, and who may use which login (issue 13, rows 3, 11)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.http import HttpRequest
from django.utils import timezone

from clients.models import PortalAccount
from clients.tests.factories import make_client
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-42"
WRONG = "wrong-password-guess-99"
STAFF_LOGIN = "/accounts/login/"
PORTAL_LOGIN = "/portal/login/"


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURES_PER_IP = 6
    return settings


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def portal_user():
    setting_update(number=620, value="yes")
    clear_cache()
    user = get_user_model().objects.create_user("rosa", password=PASSWORD)
    PortalAccount.objects.create(client=make_client(first_name="Rosa", last_name="Reyes"), user=user)
    return user


def attempt(client, url, username, password, ip="203.0.113.5"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- Staff login ------------------------------------------------------------------------------------


def test_staff_login_locks_the_user_out_after_repeated_failures(client, alice, limits):
    for _ in range(2):
        assert attempt(client, STAFF_LOGIN, "alice", WRONG).status_code == 200
    locked = attempt(client, STAFF_LOGIN, "alice", WRONG)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed sign-in attempts" in page and "15 minutes" in page and "administrator" in page
    # Even the right password is refused now, from any address.
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD, ip="198.51.100.7").status_code == 429
    assert not logged_in(client)


def test_an_address_is_locked_out_after_failures_on_many_usernames(client, alice, limits):
    for name in ("bob", "carol", "dave", "erin", "frank"):
        assert attempt(client, STAFF_LOGIN, name, WRONG).status_code == 200  # each name under its own limit
    assert attempt(client, STAFF_LOGIN, "grace", WRONG).status_code == 429  # the address's sixth failure
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD).status_code == 429
    # Another address is not affected.
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD, ip="198.51.100.7").status_code == 302


def test_a_successful_login_forgets_the_users_failures(client, alice, limits):
    for _ in range(2):
        attempt(client, STAFF_LOGIN, "alice", WRONG)
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert attempt(client, STAFF_LOGIN, "alice", WRONG).status_code == 200


def test_the_lockout_ends_after_the_cool_off(client, alice, limits):
    for _ in range(3):
        attempt(client, STAFF_LOGIN, "alice", WRONG)
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD).status_code == 302


def test_an_admin_unlocks_a_locked_out_user(client, alice, limits):
    for _ in range(3):
        attempt(client, STAFF_LOGIN, "alice", WRONG)
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD).status_code == 429
    admin = get_user_model().objects.create_superuser("boss", password=PASSWORD)
    client.force_login(admin)
    changelist = client.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200 and "alice" in changelist.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.filter(username="alice").values_list("pk", flat=True)]
    response = client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert response.status_code == 302
    client.logout()
    assert attempt(client, STAFF_LOGIN, "alice", PASSWORD).status_code == 302


def test_every_failure_and_the_lockout_are_logged_without_the_password(client, alice, limits, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        attempt(client, STAFF_LOGIN, "alice", WRONG)
    attempt(client, STAFF_LOGIN, "nobody-by-that-name", WRONG)
    failures = [r.getMessage() for r in caplog.records if r.name == "pimsy_messaging.logins"]
    assert sum("Login failed" in m for m in failures) == 4
    assert sum("Login locked out" in m for m in failures) == 1
    assert any(f"user id {alice.pk}" in m and "203.0.113.5" in m and STAFF_LOGIN in m for m in failures)
    assert any("unknown user" in m for m in failures)
    everything = " ".join(r.getMessage() for r in caplog.records)
    assert WRONG not in everything and PASSWORD not in everything
    assert "nobody-by-that-name" not in " ".join(failures)  # a typed name may be anything: not logged
    assert all(WRONG not in a.post_data for a in AccessAttempt.objects.all())


def test_the_admin_login_is_the_throttled_staff_login(client, limits):
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/admin/"
    get_user_model().objects.create_superuser("boss", password=PASSWORD)
    for _ in range(3):
        attempt(client, STAFF_LOGIN, "boss", WRONG)
    assert attempt(client, STAFF_LOGIN, "boss", PASSWORD).status_code == 429


def test_a_very_long_user_name_is_a_failed_login_not_an_error(client, portal_user):
    """axes keeps the name in a 255-character column (PostgreSQL refused a longer one: a 500)."""
    for url in (STAFF_LOGIN, PORTAL_LOGIN):
        assert attempt(client, url, "a" * 5000, WRONG).status_code == 200
    assert [len(a.username) for a in AccessAttempt.objects.all()] == [255]
    assert AccessAttempt.objects.get().failures_since_start == 2


# --- Portal login -------------------------------------------------------------------------------------


def test_portal_login_locks_out_too_with_a_portal_page(client, portal_user, limits):
    for _ in range(2):
        assert attempt(client, PORTAL_LOGIN, "rosa", WRONG).status_code == 200
    locked = attempt(client, PORTAL_LOGIN, "rosa", WRONG)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed sign-in attempts" in page and "Client portal" in page
    assert attempt(client, PORTAL_LOGIN, "rosa", PASSWORD).status_code == 429
    assert not logged_in(client)


def test_portal_login_still_works(client, portal_user, limits):
    response = attempt(client, PORTAL_LOGIN, "rosa", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/portal/"


# --- Who may use the staff site ------------------------------------------------------------------------


def test_a_portal_account_cannot_use_the_staff_login(client, portal_user):
    response = attempt(client, STAFF_LOGIN, "rosa", PASSWORD)
    assert response.status_code == 200
    assert "client portal" in response.content.decode()
    assert not logged_in(client)


def test_a_portal_session_is_sent_from_the_staff_start_page_to_the_portal(client, portal_user):
    client.force_login(portal_user)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/portal/"


STAFF_PAGES = (
    "/",
    "/messaging/",
    "/messaging/history/",
    "/messaging/history/export.csv",
    "/messaging/scheduled/",
    "/messaging/appointments/",
    "/clients/",
    "/bounces/do-not-send/",
    "/admin/",
    "/accounts/two-factor/",
)


def test_a_portal_session_never_sees_a_staff_page_even_with_staff_rights(client, portal_user):
    """A portal account wrongly made staff, with staff permissions, signed in at the portal's login."""
    portal_user.is_staff = True
    portal_user.save()
    codenames = ["send_messages", "view_history", "view_client", "view_donotsendentry"]
    portal_user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    assert attempt(client, PORTAL_LOGIN, "rosa", PASSWORD).status_code == 302
    for path in STAFF_PAGES:
        response = client.get(path)
        assert (response.status_code, response.get("Location")) == (302, "/portal/"), path
    assert client.post("/messaging/new/refresh/", {}).get("Location") == "/portal/"
    htmx = client.get("/messaging/history/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_a_portal_session_still_reaches_what_is_not_the_staff_site(client, portal_user):
    client.force_login(portal_user)
    assert client.get("/healthz").status_code == 200
    for path in ("/static/js/app.js", "/bounces/unsubscribe/not-a-token/", "/webhooks/fax/not-a-token/"):
        assert client.get(path).get("Location") != "/portal/", path


def test_staff_login_still_works(client, alice):
    response = attempt(client, STAFF_LOGIN, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


# --- Test helpers keep working ---------------------------------------------------------------------------


def test_force_login_and_client_login_with_a_request_still_work(client, alice):
    client.force_login(alice)
    assert client.get("/").status_code == 200
    client.logout()
    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert client.get("/").status_code == 200
