"""Issue 13 row 5: the preview shows a real person only to a user who may see them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from clients.tests.factories import make_appointment, make_client
from messaging.models import MessageType

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(django_user_model):
    user = django_user_model.objects.create_user("sender", password="x")
    user.user_permissions.set(Permission.objects.filter(codename__in=["send_messages"]))
    return user


def preview(client, key: str) -> str:
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    query = {"message_type": upcoming.pk, "channels": "sms", "preview_key": key}
    return client.get("/messaging/new/preview/", query).content.decode()


def test_a_guessed_key_shows_a_sample_person_to_a_sender(client, sender):
    patient = make_client(first_name="Zelda", last_name="Quist")
    appointment = make_appointment(patient, start=timezone.now() + dt.timedelta(days=2))
    client.force_login(sender)
    page = preview(client, f"a{appointment.pk}")
    assert "Zelda" not in page and "Quist" not in page and "a sample recipient" in page


def test_the_key_refresh_handed_out_shows_the_recipient(client, sender):
    patient = make_client(first_name="Zelda", last_name="Quist")
    make_appointment(patient, start=timezone.now() + dt.timedelta(days=2))
    client.force_login(sender)
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    today = timezone.localdate()
    page = client.post(
        "/messaging/new/refresh/",
        {
            "message_type": upcoming.pk,
            "channels": "sms",
            "start_date": today.isoformat(),
            "end_date": (today + dt.timedelta(days=7)).isoformat(),
            "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "idempotency_key": "k",
        },
    ).content.decode()
    match = re.search(r'name="preview_key" id="preview-key" value="([^"]*)"', page)
    assert match
    token = match.group(1)
    assert token and not token.startswith("a")
    assert "Zelda" in preview(client, token)
    # the same token is worthless to another user
    other = type(sender).objects.create_user("other")
    other.user_permissions.set(Permission.objects.filter(codename="send_messages"))
    client.force_login(other)
    assert "Zelda" not in preview(client, token)


def test_a_user_who_may_view_clients_may_preview_any_client(client, sender):
    patient = make_client(first_name="Zelda", last_name="Quist")
    sender.user_permissions.add(Permission.objects.get(codename="view_client"))
    client.force_login(sender)
    assert "Zelda" in preview(client, f"c{patient.pk}")
