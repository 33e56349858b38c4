"""Issue 14 §4 / issue 15 §2 in a real browser: the Refresh list shows the language each recipient gets,
and the date of birth that tells two clients of the same name apart."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.tests.factories import make_appointment, make_client
from messaging.models import MessageTemplate, MessageType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_refresh_shows_the_language_and_date_of_birth(logged_in_page, live_server, monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    reminder = MessageType.objects.get(code="client-upcoming-appointment")
    MessageTemplate.objects.create(
        message_type=reminder,
        channel="sms",
        language="es",
        sms_body="{{ practice_name }}: su cita es el {{ appointment_date }} a las {{ appointment_time }}.",
    )
    day = timezone.localdate() + dt.timedelta(days=2)
    zone = timezone.get_current_timezone()
    people = [
        ("Ezra", "Anderson", dt.date(1975, 6, 9), "es", 9),
        ("Ezra", "Anderson", dt.date(1991, 11, 23), "en", 10),
    ]
    for first, last, born, language, hour in people:
        client = make_client(first_name=first, last_name=last, date_of_birth=born, preferred_language=language)
        make_appointment(client, start=dt.datetime.combine(day, dt.time(hour), tzinfo=zone))

    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/")
    page.select_option("#id_message_type", label="Client Upcoming Appointment")
    page.wait_for_selector("#message-contents textarea.template-text")
    page.fill("#id_start_date", day.isoformat())
    page.fill("#id_end_date", day.isoformat())
    page.check("label.method:has-text('Text (SMS)') input")
    page.check("label.method:has-text('Email') input")
    page.click("#refresh-btn")
    page.wait_for_selector("#recipients[data-channels='sms,email'][data-fresh='1']")

    headers = page.locator("#recipient-table thead th").all_inner_texts()
    assert "Language" in headers
    spanish = page.locator("#recipient-table tbody tr", has_text="06/09/1975")
    english = page.locator("#recipient-table tbody tr", has_text="11/23/1991")
    assert "Anderson, Ezra" in spanish.inner_text() and "Anderson, Ezra" in english.inner_text()
    assert spanish.locator("td.language").inner_text() == "Spanish: Text (SMS); English (no Spanish text): Email"
    assert english.locator("td.language").inner_text() == "English"

    # The preview is the first recipient's: the Spanish text, its date written in Spanish.
    sms = page.locator(".preview-sms")
    assert "Spanish" in sms.locator(".preview-language").inner_text()
    text = sms.locator("textarea").input_value()
    assert "su cita es el" in text and " a las 09:00." in text and f"{day:%B}" not in text
