"""The staff home page's numbers (issue 15 §5): today's messages, replies to read, confirmation rate."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from clients.models import ConfirmationStatus
from clients.tests.factories import make_appointment, make_client
from messaging import history
from messaging.home import today_numbers
from messaging.models import AppointmentReply, Broadcast, ReplySource, Status
from messaging.tests.dispatch_support import make_delivery, message_type

pytestmark = pytest.mark.django_db


def test_numbers_count_todays_messages_as_history_filters_them() -> None:
    yesterday = timezone.now() - dt.timedelta(days=1, hours=1)
    make_delivery(status=Status.DELIVERED)
    make_delivery(status=Status.DELIVERED)
    make_delivery(status=Status.FAILED)
    make_delivery(status=Status.SENT)
    make_delivery(status=Status.QUEUED)
    make_delivery(status=Status.DELIVERED, created_at=yesterday)  # not today
    make_delivery(status=Status.QUEUED, created_at=yesterday)  # waiting counts whenever it was made
    numbers = today_numbers()
    assert (numbers.sent, numbers.delivered, numbers.failed, numbers.waiting) == (1, 2, 1, 2)
    today = timezone.localdate()
    for status, shown in [("delivered", numbers.delivered), ("failed", numbers.failed), ("sent", numbers.sent)]:
        linked = history.filtered(history.Filters(status=status, date_from=today))
        assert linked.count() == shown  # the number and the History list it links to agree


def test_replies_to_read_scheduled_broadcasts_and_the_confirmation_rate() -> None:
    now = timezone.now()
    reminded = [make_appointment(make_client(), start=now - dt.timedelta(days=d)) for d in (2, 3, 4, 5)]
    for appointment in reminded:
        make_delivery(client=appointment.client, appointment=appointment, status=Status.DELIVERED, sent_at=now)
    reminded[0].confirmation = ConfirmationStatus.CONFIRMED
    reminded[0].save()
    make_appointment(make_client(), start=now - dt.timedelta(days=1))  # no message sent for it: not counted
    AppointmentReply.objects.create(appointment=reminded[1], answer=ConfirmationStatus.DECLINED, source=ReplySource.SMS)
    AppointmentReply.objects.create(
        appointment=reminded[2], answer=ConfirmationStatus.CONFIRMED, source=ReplySource.SMS, reviewed_at=now
    )
    Broadcast.objects.create(message_type=message_type(), broadcast_at=now + dt.timedelta(days=2), channels=["sms"])
    numbers = today_numbers()
    assert numbers.replies_to_read == 1
    assert numbers.scheduled_broadcasts == 1
    assert (numbers.confirmed_appointments, numbers.reminded_appointments, numbers.confirmation_rate) == (1, 4, 25)


def test_the_home_page_shows_the_numbers_only_to_staff_who_may_see_history(client, django_user_model) -> None:
    user = django_user_model.objects.create_user("desk", password="x-pass-123456")
    client.force_login(user)
    assert "Today's messages" not in client.get("/").content.decode()
    user.user_permissions.add(Permission.objects.get(codename="view_history"))
    make_delivery(status=Status.FAILED)
    page = client.get("/").content.decode()
    assert "Today's messages" in page and "failed" in page and "?status=failed&amp;date_from=" in page
    assert "No appointment of the last 30 days had a message sent for it yet." in page
