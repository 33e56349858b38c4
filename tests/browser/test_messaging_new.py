"""Seed Steps 2 and 3 in a real browser: Utilities > Messaging, the New tab, Refresh, Send, History."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from bounces.models import DoNotSendEntry
from clients.models import ContactMethod, StaffProfile
from clients.tests.factories import make_appointment, make_client
from messaging.models import Broadcast, Delivery, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PEOPLE = [
    # first, last, consent, preferred, hour
    ("Maria", "Alvarez", True, ContactMethod.TEXT, 9),
    ("David", "Chen", True, ContactMethod.TEXT, 10),
    ("Tanya", "Brooks", False, ContactMethod.TEXT, 11),  # no consent
    ("Priya", "Patel", True, ContactMethod.EMAIL, 13),
    ("Samuel", "Okafor", True, ContactMethod.TEXT, 14),
    ("Grace", "Kim", True, ContactMethod.PHONE, 15),
    ("Jonah", "Rossi", False, ContactMethod.EMAIL, 16),  # no consent
]


def practice(days_ahead: int = 2):
    User = get_user_model()
    clinician = User.objects.create_user("jlee", first_name="Jordan", last_name="Lee")
    StaffProfile.objects.create(user=clinician, display_name="Jordan Lee, LCSW", is_clinician=True)
    day = timezone.localdate() + dt.timedelta(days=days_ahead)
    zone = timezone.get_current_timezone()
    clients = {}
    for first, last, consent, preferred, hour in PEOPLE:
        client = make_client(first_name=first, last_name=last, consent=consent, preferred=preferred)
        make_appointment(
            client,
            start=dt.datetime.combine(day, dt.time(hour), tzinfo=zone),
            clinician=clinician,
            location="Main Office, Suite 200",
        )
        clients[last] = client
    alt = make_client(
        first_name="Ethan",
        last_name="Nguyen",
        use_detail=False,
        alternate={"name": "Linh Nguyen", "relationship": "Mother", "cell_phone": "+16175550199"},
    )
    make_appointment(
        alt,
        start=dt.datetime.combine(day, dt.time(16, 30), tzinfo=zone),
        clinician=clinician,
        location="Main Office, Suite 200",
    )
    clients["Nguyen"] = alt
    DoNotSendEntry.objects.create(channel="sms", address=str(clients["Okafor"].cell_phone), reason="sms_stop")
    return clients, day


def test_seed_steps_new_tab_to_history(logged_in_page, live_server, monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)  # deliveries stay queued
    clients, day = practice()
    page = logged_in_page

    # Step 2: Utilities > Messaging; the New tab is the default screen.
    page.goto(f"{live_server.url}/")
    page.hover("text=Utilities")
    page.click(".menu-items >> text=Messaging")
    page.wait_for_selector("a.tab.active:has-text('New')")
    assert page.locator("#message-options").is_visible() and page.locator(".compose-contents").is_visible()
    assert page.locator("#recipients").is_visible()

    # Step 3: a message type fills the Template.
    page.select_option("#id_message_type", label="Client Upcoming Appointment")
    page.wait_for_selector("#message-contents textarea.template-text")
    assert "reminder of your appointment" in page.locator("#message-contents textarea").first.input_value()
    page.fill("#id_start_date", (day - dt.timedelta(days=1)).isoformat())
    page.fill("#id_end_date", (day + dt.timedelta(days=1)).isoformat())

    # Refresh lists the recipients; clients without consent are not among them but excluded with the reason.
    page.click("#refresh-btn")
    page.wait_for_selector("#recipients[data-fresh='1']")
    table = page.locator("#recipient-table").inner_text()
    excluded = page.locator("#excluded-list").inner_text()
    for name in ["Alvarez, Maria", "Chen, David", "Patel, Priya", "Kim, Grace", "Nguyen, Ethan"]:
        assert name in table
    for name in ["Brooks, Tanya", "Rossi, Jonah"]:
        assert name not in table
        assert name in excluded
    assert excluded.count("No messaging consent") == 2
    assert page.locator("#send-btn").is_disabled()  # no Contact Method yet

    # Contact Methods: Text (SMS). The list follows: addresses and their source; the Do-Not-Send number excluded.
    page.check("label.method:has-text('Text (SMS)') input")
    page.wait_for_selector("#recipients[data-channels='sms'][data-fresh='1']")
    assert page.locator("#send-btn").inner_text() == "Send Text Message"
    assert page.locator("#send-btn").is_enabled()
    nguyen_row = page.locator("#recipient-table tr", has_text="Nguyen, Ethan").inner_text()
    assert "(617) 555-0199" in nguyen_row and "Messaging Contact" in nguyen_row
    assert "Chart" in page.locator("#recipient-table tr", has_text="Alvarez, Maria").inner_text()
    assert "Do-Not-Send" in page.locator("#excluded-list li", has_text="Okafor, Samuel").inner_text()
    sms = page.locator(".preview-sms")
    assert "GSM-7" in sms.inner_text() and "segment" in sms.inner_text()
    assert "Preview for Maria Alvarez" in page.locator("#message-contents").inner_text()  # the first recipient
    assert f"appointment on {day:%A}, {day:%B} {day.day} at 9:00 AM" in sms.locator("textarea").input_value()
    page.screenshot(path="/tmp/new_tab.png", full_page=True)

    # Send Text Message -> the confirmation; No keeps everything; Yes sends.
    page.click("#send-btn")
    dialog = page.locator("dialog#confirm-send")
    dialog.wait_for(state="visible")
    assert "Are you sure you want to send the message to the listed clients?" in dialog.inner_text()
    page.click("#confirm-no")
    dialog.wait_for(state="hidden")
    assert Broadcast.objects.count() == 0
    page.click("#send-btn")
    dialog.wait_for(state="visible")
    page.click("#confirm-yes")
    page.wait_for_selector("#send-result .progress")
    progress = page.locator("#send-result .progress").inner_text().lower()
    assert "queued" in progress and "failed hard" in progress and "suppressed" in progress
    page.wait_for_selector(".toast:has-text('Broadcast')")
    page.screenshot(path="/tmp/new_tab_sent.png", full_page=False)

    broadcast = Broadcast.objects.get()
    queued = set(
        Delivery.objects.filter(broadcast=broadcast, status=Status.QUEUED).values_list("client__last_name", flat=True)
    )
    assert queued == {"Alvarez", "Chen", "Patel", "Kim", "Nguyen"}
    assert Delivery.objects.get(broadcast=broadcast, client=clients["Okafor"]).status == Status.SUPPRESSED
    assert not Delivery.objects.filter(client__in=[clients["Brooks"], clients["Rossi"]]).exists()

    # The rows appear in History.
    page.click("#send-result a:has-text('View in History')")
    page.wait_for_selector("a.tab.active:has-text('History')")
    history = page.locator("#history-table").inner_text()
    for name in ["Alvarez, Maria", "Chen, David", "Nguyen, Ethan", "Okafor, Samuel"]:
        assert name in history
    assert "Queued" in history and "Suppressed" in history


def test_cancel_what_has_not_gone_out(logged_in_page, live_server, monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    practice()
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/")
    page.select_option("#id_message_type", label="Client Upcoming Appointment")
    page.wait_for_selector("#message-contents textarea.template-text")
    page.check("label.method:has-text('Email') input")
    page.wait_for_selector("#message-contents .preview-email")  # the contents follow the Contact Methods
    assert "Appointment reminder from" in page.locator("#message-contents .subject").inner_text()
    page.click("#refresh-btn")
    page.wait_for_selector("#recipients[data-channels='email'][data-fresh='1']")
    assert page.locator("#send-btn").inner_text() == "Send Email"
    # Untick one row: it is not sent.
    page.locator("#recipient-table tr", has_text="Chen, David").locator(".recipient-tick").uncheck()
    page.click("#send-btn")
    page.click("#confirm-yes")
    page.wait_for_selector("#send-result .progress")
    assert not Delivery.objects.filter(client__last_name="Chen").exists()
    native: list[str] = []
    page.on("dialog", lambda d: (native.append(d.message), d.dismiss()))
    page.click("#cancel-broadcast")  # asks in the app's own dialog, as Send does; No keeps everything
    assert page.locator("#app-confirm-text").inner_text().startswith("Cancel the 4 messages that have not gone out")
    page.click("#app-confirm-no")
    assert not page.locator("#app-confirm").is_visible()
    assert Delivery.objects.filter(status=Status.QUEUED).exists()
    page.click("#cancel-broadcast")
    page.click("#app-confirm-yes")
    page.wait_for_selector("#send-result .progress.final")
    assert native == []  # never the browser's confirm box
    assert "cancelled" in page.locator("#send-result .progress").inner_text().lower()
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.CANCELLED}


def test_manual_type_requires_description(logged_in_page, live_server, monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    make_client(first_name="Ana", last_name="Lopez")
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/")
    page.select_option("#id_message_type", label="Ad Hoc (clients)")
    page.wait_for_selector("#description-req:not([hidden])")
    page.check("label.method:has-text('Text (SMS)') input")
    page.click("#refresh-btn")
    page.wait_for_selector("#recipients[data-channels='sms'][data-fresh='1']")
    page.click("#send-btn")  # the browser refuses: Description is required
    assert not page.locator("dialog#confirm-send").is_visible()
    page.fill("#id_description", "The office is closed on Monday for the holiday.")
    expect(page.locator(".preview-sms textarea")).to_have_value(re.compile("closed on Monday"))
    page.click("#send-btn")
    page.click("#confirm-yes")
    page.wait_for_selector("#send-result .progress")
    assert Broadcast.objects.get().description == "The office is closed on Monday for the holiday."
