"""Setting 620: the client portal inbox exists only while exposed; clients see only their own messages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from clients.models import ContactMethod, PortalAccount
from clients.tests.factories import make_appointment, make_client
from messaging.models import Broadcast, Delivery, MessageType, PortalMessageRead, Status
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache

pytestmark = pytest.mark.django_db


def expose(on: bool = True) -> None:
    setting_update(number=620, value="yes" if on else "no")
    clear_cache()


def portal_user(patient, username: str = "rosa"):
    user = get_user_model().objects.create_user(username, password="portal-pass-123")
    PortalAccount.objects.create(client=patient, user=user)
    return user


def sent(patient, *, channel: str = "email", status: str = Status.DELIVERED, broadcast=None, appointment=None):
    mt = MessageType.objects.get(code="client-upcoming-appointment")
    broadcast = broadcast or Broadcast.objects.create(message_type=mt, broadcast_at=timezone.now(), automated=True)
    return Delivery.objects.create(
        broadcast=broadcast,
        message_type=mt,
        channel=channel,
        client=patient,
        appointment=appointment,
        address="x",
        status=status,
        sent_at=timezone.now(),
    )


@pytest.fixture
def patient():
    return make_client(first_name="Rosa", last_name="Reyes", preferred=ContactMethod.EMAIL)


def test_nothing_is_shown_when_not_exposed(client, patient):
    user = portal_user(patient)
    assert client.get("/portal/login/").status_code == 404
    client.force_login(user)
    assert client.get("/portal/").status_code == 404
    assert client.get(f"/portal/messages/{sent(patient).pk}/").status_code == 404


def test_login_list_and_read(client, patient):
    expose()
    portal_user(patient)
    appointment = make_appointment(patient, start=timezone.now() + dt.timedelta(days=2))
    email = sent(patient, appointment=appointment)
    sent(patient, channel="sms", broadcast=email.broadcast, appointment=appointment)  # same message by text
    sent(patient, status=Status.QUEUED)  # not sent yet: not shown
    sent(patient, status=Status.SUPPRESSED)

    assert client.get("/portal/").status_code == 302  # to the portal login
    response = client.post("/portal/login/", {"username": "rosa", "password": "portal-pass-123"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    html = client.get("/portal/").content.decode()
    assert html.count('href="/portal/messages/') == 1 and f"/portal/messages/{email.pk}/" in html
    assert "New" in html

    page = client.get(f"/portal/messages/{email.pk}/").content.decode()
    assert "Appointment reminder from" in page and "Hello Rosa" in page  # the e-mail as rendered
    assert PortalMessageRead.objects.filter(delivery=email).count() == 1
    assert 'badge">New' not in client.get("/portal/").content.decode()


def test_only_own_messages(client, patient):
    expose()
    user = portal_user(patient)
    other = sent(make_client())
    client.force_login(user)
    assert client.get(f"/portal/messages/{other.pk}/").status_code == 404
    assert f"/portal/messages/{other.pk}/" not in client.get("/portal/").content.decode()


def test_staff_logins_are_not_portal_logins(client, staff_user):
    expose()
    response = client.post("/portal/login/", {"username": "staff", "password": "staff-pass-123"})
    assert response.status_code == 200 and "not a client portal login" in response.content.decode()
    client.force_login(staff_user)
    assert client.get("/portal/").status_code == 403


def test_portal_users_cannot_open_staff_screens(client, patient):
    expose()
    client.force_login(portal_user(patient))
    for path in ("/messaging/appointments/", "/clients/"):  # sent to the portal (pimsy_messaging.middleware)
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, "/portal/"), path


def test_password_change_sends_the_portal_password_message(client, patient):
    expose()
    client.force_login(portal_user(patient))
    data = {"old_password": "portal-pass-123", "new_password1": "n3w-Portal-pass", "new_password2": "n3w-Portal-pass"}
    assert client.post("/portal/password/", data).status_code == 302
    (message,) = Delivery.objects.filter(client=patient, message_type__code="portal-password-change")
    assert message.channel == "email" and message.status == Status.QUEUED and message.broadcast.automated
    bad = client.post("/portal/password/", {"old_password": "wrong", "new_password1": "a", "new_password2": "b"})
    assert bad.status_code == 200 and "field-error" in bad.content.decode()
