"""Who may cancel a broadcast and how far ahead it may be dated (issue 13, row 11)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from clients.tests.factories import make_appointment, make_client
from core import clock
from messaging.forms import NewMessageForm
from messaging.models import Broadcast, Delivery, MessageType, Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)


@pytest.fixture
def upcoming():
    return MessageType.objects.get(code="client-upcoming-appointment")


def user_with(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def form_data(message_type, **extra):
    today = timezone.localdate()
    data = {
        "message_type": str(message_type.pk),
        "description": "",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=7)).isoformat(),
        "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "channels": ["sms"],
        "idempotency_key": "key-1",
        "skipped": "",
    }
    data.update(extra)
    return data


@pytest.fixture
def broadcast_of_alice(client, django_user_model, upcoming):
    alice = user_with(django_user_model, "alice", "send_messages", "view_history")
    make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    client.force_login(alice)
    client.post(reverse("messaging:send"), form_data(upcoming), HTTP_HX_REQUEST="true")
    client.logout()
    return Broadcast.objects.get(created_by=alice)


def cancel(client, broadcast):
    return client.post(reverse("messaging:broadcast-cancel", args=[broadcast.pk]), HTTP_HX_REQUEST="true")


def test_a_sender_cannot_cancel_another_users_broadcast(client, django_user_model, broadcast_of_alice):
    client.force_login(user_with(django_user_model, "bob", "send_messages", "view_history"))
    progress = client.get(reverse("messaging:broadcast-progress", args=[broadcast_of_alice.pk])).content.decode()
    assert 'id="cancel-broadcast"' not in progress  # no button to press
    assert cancel(client, broadcast_of_alice).status_code == 403
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.QUEUED}
    broadcast_of_alice.refresh_from_db()
    assert broadcast_of_alice.state == Broadcast.State.ACTIVE


def test_the_cancel_any_permission_cancels_another_users_broadcast(client, django_user_model, broadcast_of_alice):
    client.force_login(user_with(django_user_model, "lead", "send_messages", "view_history", "cancel_any_broadcast"))
    progress = client.get(reverse("messaging:broadcast-progress", args=[broadcast_of_alice.pk])).content.decode()
    assert 'id="cancel-broadcast"' in progress
    response = cancel(client, broadcast_of_alice)
    assert response.status_code == 200 and "1 message cancelled" in response.content.decode()
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.CANCELLED}


def test_the_creator_still_cancels_their_own_broadcast(client, broadcast_of_alice):
    client.force_login(broadcast_of_alice.created_by)
    progress = client.get(reverse("messaging:broadcast-progress", args=[broadcast_of_alice.pk])).content.decode()
    assert 'id="cancel-broadcast"' in progress
    assert cancel(client, broadcast_of_alice).status_code == 200
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.CANCELLED}


# --- Broadcast Date ----------------------------------------------------------------------------------


def _form(upcoming, when: dt.datetime) -> NewMessageForm:
    return NewMessageForm(form_data(upcoming, broadcast_at=when.strftime("%Y-%m-%dT%H:%M")))


def test_broadcast_date_a_year_ahead_is_accepted(upcoming):
    today = timezone.localdate(clock.now())
    in_a_year = dt.datetime.combine(today.replace(year=today.year + 1, day=min(today.day, 28)), dt.time(9))
    form = _form(upcoming, in_a_year)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "future"])
def test_broadcast_date_more_than_a_year_ahead_is_a_form_error(upcoming, when):
    if when == "future":
        today = timezone.localdate(clock.now())
        when = (today + dt.timedelta(days=367)).strftime("%Y-%m-%dT09:00")
    form = NewMessageForm(form_data(upcoming, broadcast_at=when))
    assert not form.is_valid()
    assert form.errors["broadcast_at"] == ["Broadcast Date is more than a year ahead. Choose a date within a year."]


def test_send_with_a_far_broadcast_date_shows_the_error_and_creates_nothing(client, django_user_model, upcoming):
    client.force_login(user_with(django_user_model, "sender", "send_messages", "view_history"))
    make_appointment(make_client(), start=timezone.now() + dt.timedelta(days=1))
    response = client.post(
        reverse("messaging:send"), form_data(upcoming, broadcast_at="9999-12-31T23:59"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "more than a year ahead" in response.content.decode()
    assert not Broadcast.objects.exists()
