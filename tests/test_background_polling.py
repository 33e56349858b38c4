"""Issue 13, row 4: a screen polling by itself never keeps the session alive, and stops polling
when there is nothing to watch."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.utils import timezone

from clients.tests.factories import make_client
from messaging.broadcasts import broadcast_create
from messaging.models import Broadcast, MessageType
from pimsy_messaging.middleware import REFRESHED_KEY

pytestmark = pytest.mark.django_db
POLL = {"HTTP_HX_REQUEST": "true", "HTTP_X_BACKGROUND_POLL": "1", "HTTP_HX_CURRENT_URL": "http://testserver/messaging/"}


@pytest.fixture
def sender(client, django_user_model, monkeypatch, settings):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    settings.SESSION_REFRESH_SECONDS = 0  # any request of the user refreshes the expiry at once
    user = django_user_model.objects.create_user("sender", password="x")
    user.user_permissions.set(Permission.objects.filter(codename="send_messages"))
    client.force_login(user)
    return user


def broadcast(at: dt.datetime | None = None) -> Broadcast:
    make_client()
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    return broadcast_create(message_type=ad_hoc, channels=["sms"], description="x", broadcast_at=at).broadcast


def test_polling_never_pushes_the_idle_log_off_back(client, sender):
    b = broadcast()
    session = Session.objects.get(session_key=client.session.session_key)
    before = (session.expire_date, session.get_decoded().get(REFRESHED_KEY))
    response = client.get(f"/messaging/broadcasts/{b.pk}/progress/", **POLL)
    assert response.status_code == 200
    session = Session.objects.get(session_key=client.session.session_key)
    assert (session.expire_date, session.get_decoded().get(REFRESHED_KEY)) == before
    client.get("/messaging/history/")  # the user doing something does
    assert Session.objects.get(session_key=client.session.session_key).expire_date >= before[0]


def test_a_poll_after_the_session_ended_takes_the_page_to_the_login(client, sender):
    b = broadcast()
    client.logout()
    response = client.get(f"/messaging/broadcasts/{b.pk}/progress/", **POLL)
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=/messaging/&ended=1"


def test_polling_runs_while_sending_and_stops_for_later_or_stale_broadcasts(client, sender):
    running = broadcast()
    page = client.get(f"/messaging/broadcasts/{running.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in page and "X-Background-Poll" in page
    later = broadcast(timezone.now() + dt.timedelta(days=3))
    page = client.get(f"/messaging/broadcasts/{later.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in page and "Scheduled: it goes out" in page
    Broadcast.objects.filter(pk=running.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    page = client.get(f"/messaging/broadcasts/{running.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in page and "stopped updating by itself" in page


def test_every_polling_element_of_every_template_says_it_is_a_background_poll():
    """A template that polls (``hx-trigger="every …"``) sends ``X-Background-Poll`` from the same element,
    or an unattended screen (the demo's Provider Simulators page, every 3 s) would never log off."""
    root = Path(settings.BASE_DIR) / "templates"
    polling = [
        (path.relative_to(root), tag)
        for path in sorted(root.rglob("*.html"))
        for tag in re.findall(r"<[a-zA-Z][^>]*\bhx-trigger=\"[^\"]*\bevery\b[^>]*>", path.read_text(encoding="utf-8"))
    ]
    assert any(str(name) == "messaging/simulators.html" for name, _ in polling)
    assert [name for name, tag in polling if """hx-headers='{"X-Background-Poll": "1"}'""" not in tag] == []
