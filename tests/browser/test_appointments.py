"""Clients > Scheduled Appointments in a real browser: texted replies arrive through the signed
webhook (sent by the Twilio simulator) and show on the list; a cancel request is reviewed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from clients.models import ConfirmationStatus
from clients.tests.factories import make_appointment, make_client
from messaging.models import Broadcast, Delivery, MessageType, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUR_NUMBER = "+16175550100"


@pytest.fixture
def twilio(settings, live_server):
    from messaging.simulators.twilio_sim import start_twilio_sim

    settings.PUBLIC_BASE_URL = live_server.url  # the URL Twilio signs is the one it calls
    with start_twilio_sim(account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN) as handle:
        yield handle


def reminded(first: str, last: str, hours: int):
    patient = make_client(first_name=first, last_name=last)
    appointment = make_appointment(patient, start=timezone.now() + dt.timedelta(hours=hours))
    mt = MessageType.objects.get(code="client-upcoming-appointment")
    broadcast = Broadcast.objects.create(message_type=mt, broadcast_at=timezone.now(), automated=True)
    Delivery.objects.create(
        broadcast=broadcast,
        message_type=mt,
        channel="sms",
        client=patient,
        appointment=appointment,
        address=str(patient.cell_phone),
        status=Status.DELIVERED,
        sent_at=timezone.now(),
    )
    return patient, appointment


def text_from(twilio, live_server, patient, body: str) -> None:
    report = twilio.sim.inbound(
        {
            "from": str(patient.cell_phone),
            "to": OUR_NUMBER,
            "body": body,
            "url": f"{live_server.url}/webhooks/twilio/sms/inbound/",
        }
    )
    assert report["http_status"] == 200, report


def test_replies_show_and_a_cancel_request_is_reviewed(logged_in_page, live_server, staff_user, twilio):
    staff_user.user_permissions.add(Permission.objects.get(codename="change_appointmentreply"))
    rosa, rosa_visit = reminded("Rosa", "Reyes", 26)
    sam, sam_visit = reminded("Sam", "Ortiz", 30)
    text_from(twilio, live_server, rosa, "C")
    text_from(twilio, live_server, rosa, "Can I park in the back?")
    text_from(twilio, live_server, sam, "N")
    rosa_visit.refresh_from_db()
    assert rosa_visit.confirmation == ConfirmationStatus.CONFIRMED

    page = logged_in_page
    page.goto(f"{live_server.url}/")
    page.hover("text=Clients")
    page.click("text=Scheduled Appointments")
    page.wait_for_selector("h1:has-text('Scheduled Appointments')")
    rosa_row = page.locator(f"#appointment-{rosa_visit.pk}")
    assert "Client confirmed" in rosa_row.inner_text()
    assert "Can I park in the back?" in rosa_row.inner_text()
    assert "Client asked to cancel" in page.locator(f"#appointment-{sam_visit.pk}").inner_text()
    attention = page.locator("#attention")
    assert "1 client asked to cancel" in attention.inner_text() and "Ortiz, Sam" in attention.inner_text()
    page.screenshot(path="/tmp/appointments.png", full_page=True)

    # Filtering swaps the results in place (htmx).
    page.select_option("#confirmation", "declined")
    page.wait_for_selector(f"#appointment-{rosa_visit.pk}", state="detached")
    assert page.locator(f"#appointment-{sam_visit.pk}").is_visible()

    attention.locator("button:has-text('Mark reviewed')").click()
    page.wait_for_selector(".toast:has-text('Marked reviewed')")
    page.wait_for_selector("text=Needs attention", state="detached")
    sam_visit.refresh_from_db()
    assert sam_visit.status == "scheduled" and sam_visit.confirmation == ConfirmationStatus.DECLINED
