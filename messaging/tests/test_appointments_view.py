"""Clients > Scheduled Appointments: confirmation state, client replies (setting 673), cancel requests."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth.models import Permission

from clients.models import AppointmentStatus, ConfirmationStatus
from clients.tests.factories import make_appointment, make_client
from core import clock
from messaging.inbound import appointment_reply
from messaging.models import AppointmentReply, InboundMessage
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2025, 6, 2, 9, 0, tzinfo=NY)
URL = "/messaging/appointments/"


@pytest.fixture(autouse=True)
def frozen():
    with clock.freeze(NOW) as f:
        yield f


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def booked():
    patient = make_client(first_name="Rosa", last_name="Reyes")
    appointment = make_appointment(patient, start=NOW + dt.timedelta(days=1, hours=2), location="Main Office")
    return patient, appointment


def test_needs_login_and_permission(client, django_user_model):
    assert client.get(URL).status_code == 302
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.get(URL).status_code == 403


def test_lists_upcoming_appointments_with_confirmation_and_replies(staff, booked):
    patient, appointment = booked
    past = make_appointment(make_client(last_name="Past"), start=NOW - dt.timedelta(days=1))
    far = make_appointment(make_client(last_name="Farfuture"), start=NOW + dt.timedelta(days=20))
    cancelled = make_appointment(make_client(last_name="Cancelledone"), start=NOW + dt.timedelta(hours=5))
    cancelled.status = AppointmentStatus.CANCELLED
    cancelled.save()
    InboundMessage.objects.create(
        provider_message_id="SM1",
        from_number=str(patient.cell_phone),
        to_number="+16175550100",
        body="Can I bring my daughter?",
        client=patient,
        appointment=appointment,
        received_at=NOW,
    )
    appointment_reply(appointment=appointment, answer="confirm", source="sms", text="C")
    html = staff.get(URL).content.decode()
    assert "Reyes, Rosa" in html and "Client confirmed" in html
    assert "Client replies" in html and "Can I bring my daughter?" in html
    assert f"appointment-{past.pk}" not in html and f"appointment-{far.pk}" not in html
    assert f"appointment-{cancelled.pk}" not in html
    assert f"appointment-{cancelled.pk}" in staff.get(URL + "?cancelled=1").content.decode()
    assert f"appointment-{far.pk}" in staff.get(URL + "?days=30&page=1").content.decode()


def test_replies_hidden_when_setting_673_is_off(staff, booked):
    patient, appointment = booked
    InboundMessage.objects.create(
        provider_message_id="SM2",
        from_number=str(patient.cell_phone),
        to_number="+1",
        body="See you then",
        client=patient,
        appointment=appointment,
        received_at=NOW,
    )
    setting_update(number=673, value="no")
    clear_cache()
    html = staff.get(URL).content.decode()
    assert "See you then" not in html and "Client replies" not in html
    assert "Reyes, Rosa" in html  # the list itself stays


def test_filter_by_confirmation_with_htmx_partial(staff, booked):
    _, appointment = booked
    other = make_appointment(make_client(last_name="Other"), start=NOW + dt.timedelta(hours=3))
    appointment_reply(appointment=other, answer="decline", source="sms", text="N")
    response = staff.get(URL + "?confirmation=declined", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="results"' in html
    assert f"appointment-{other.pk}" in html and f"appointment-{appointment.pk}" not in html
    assert staff.get(URL + "?confirmation=bogus&days=999").status_code == 200  # bad filters fall back


def test_cancel_requests_need_attention_until_reviewed(staff, staff_user, booked):
    _, appointment = booked
    reply = appointment_reply(appointment=appointment, answer="decline", source="voice")
    assert reply is not None
    html = staff.get(URL).content.decode()
    assert "Needs attention: 1 client asked to cancel" in html
    assert "Mark reviewed" not in html  # no permission to review
    assert staff.post(URL, {"reply": reply.pk}).status_code == 403
    staff_user.user_permissions.add(Permission.objects.get(codename="change_appointmentreply"))
    staff_user = type(staff_user).objects.get(pk=staff_user.pk)
    staff.force_login(staff_user)
    assert "Mark reviewed" in staff.get(URL).content.decode()
    response = staff.post(URL, {"reply": reply.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Needs attention" not in response.content.decode()
    reply.refresh_from_db()
    assert reply.reviewed_by == staff_user and reply.reviewed_at == NOW
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.DECLINED and appointment.status == "scheduled"
    assert staff.post(URL, {"reply": 999999}).status_code == 404
    assert AppointmentReply.objects.count() == 1


@pytest.mark.parametrize("value", ["abc", "1.5", " ", "", "-1", "0", "1e3", "٣", "9" * 30, "<script>"])
def test_any_reply_value_that_is_not_an_id_is_a_400(staff, staff_user, booked, value):
    """Issue 13 row 6: 22 of 25 fuzz values for ``reply`` were a 500."""
    _, appointment = booked
    reply = appointment_reply(appointment=appointment, answer="decline", source="voice")
    staff_user.user_permissions.add(Permission.objects.get(codename="change_appointmentreply"))
    staff.force_login(type(staff_user).objects.get(pk=staff_user.pk))
    response = staff.post(URL, {"reply": value})
    assert response.status_code in (400, 404)
    reply.refresh_from_db()
    assert reply.reviewed_at is None
