"""Issue 14 §3 in a real browser: from the chart, the Messages tab shows what a client was sent and how it went."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from bounces.models import DnsChannel, DnsReason, DoNotSendEntry
from clients.services import messaging_profile_update
from clients.tests.factories import make_client
from messaging.models import Broadcast, Delivery, InboundMessage, MessageContent, MessageType, Status
from tests.browser.test_accessibility import serious

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sent_message(patient, *, text: str, status: str = Status.DELIVERED, **fields) -> Delivery:
    message_type = MessageType.objects.get(code="ad-hoc-clients")
    broadcast = Broadcast.objects.create(
        message_type=message_type, broadcast_at=timezone.now(), description="Clinic news"
    )
    content = MessageContent.objects.create(
        digest=hashlib.sha256(text.encode()).hexdigest(), channel="sms", text=text, encoding="GSM-7", segments=1
    )
    return Delivery.objects.create(
        broadcast=broadcast,
        message_type=message_type,
        channel="sms",
        client=patient,
        recipient_name=str(patient),
        address=str(patient.cell_phone),
        status=status,
        content=content,
        attempt_count=1,
        sent_at=timezone.now() - dt.timedelta(minutes=5),
        **fields,
    )


def test_open_a_chart_click_messages_and_see_what_was_sent(logged_in_page, live_server):
    patient = make_client(first_name="Imani", last_name="Brooks")
    delivered = sent_message(patient, text="The clinic is closed Friday.")
    failed = sent_message(
        patient, text="Flu shots Saturday.", status=Status.FAILED, bounce_category="Bad-Mailbox", hard_bounce=True
    )
    page = logged_in_page
    page.goto(f"{live_server.url}/clients/{patient.pk}/")
    page.click("a.tab:has-text('Messages')")
    page.wait_for_url(f"{live_server.url}/messaging/clients/{patient.pk}/messages/")
    assert page.locator("a.tab.active").inner_text() == "Messages"
    first = page.locator(f"#message-{delivered.pk}")
    assert first.locator("[data-role=status]").inner_text() == "Delivered"
    first.locator("summary").click()
    assert "The clinic is closed Friday." in first.locator(".said-text").inner_text()
    second = page.locator(f"#message-{failed.pk}")
    assert second.locator("[data-role=status]").inner_text() == "Failed"
    assert "Bad-Mailbox" in second.inner_text() and "Hard" in second.inner_text()
    # The detail link leads to the delivery; History opens filtered to this client.
    second.locator("a:has-text('Details')").click()
    page.wait_for_url(f"{live_server.url}/messaging/history/{failed.pk}/")
    page.go_back()
    page.click("#history-link")
    page.wait_for_url(f"{live_server.url}/messaging/history/?client={patient.pk}")
    assert page.locator(f"tr[data-delivery='{failed.pk}']").count() == 1


def test_the_messages_tab_is_reached_and_opened_by_keyboard(logged_in_page, live_server):
    patient = make_client(first_name="Rafael", last_name="Ortiz")
    sent_message(patient, text="See you soon.")
    page = logged_in_page
    page.goto(f"{live_server.url}/clients/{patient.pk}/")
    page.focus("a.tab:has-text('Contacts')")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Messages"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/messaging/clients/{patient.pk}/messages/")
    assert page.locator("[data-role=status]").first.inner_text() == "Delivered"


def test_the_messages_tab_fits_a_phone(logged_in_page, live_server):
    patient = make_client(first_name="Ana", last_name="Lopez")
    sent_message(
        patient, text="A long message " * 30, status=Status.FAILED, bounce_category="Bad-Domain", hard_bounce=True
    )
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/messaging/clients/{patient.pk}/messages/")
    page.locator(".cm-said summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_messages_tab_with_every_kind_of_item_has_no_serious_accessibility_violation(logged_in_page, live_server):
    patient = make_client(first_name="Lena", last_name="Park")
    sent_message(patient, text="Reminder: tomorrow 9 AM.")
    sent_message(patient, text="Flu shots.", status=Status.FAILED, bounce_category="Bad-Mailbox", hard_bounce=True)
    InboundMessage.objects.create(
        provider_message_id="SM-axe",
        from_number=str(patient.cell_phone),
        to_number="+1",
        body="STOP",
        keyword="STOP",
        client=patient,
    )
    DoNotSendEntry.objects.create(channel=DnsChannel.SMS, address=str(patient.cell_phone), reason=DnsReason.SMS_STOP)
    messaging_profile_update(client=patient, changes={"consent_given": False}, user=None)
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/clients/{patient.pk}/messages/")
    page.locator(".cm-said summary").first.click()
    assert serious(page) == []
