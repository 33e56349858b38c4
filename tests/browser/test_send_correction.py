"""Send sends what the screen shows: a form restored by Back / Forward and corrected is a new broadcast."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from messaging.models import Broadcast

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def send_staff_message(page, text: str) -> None:
    page.fill("#id_description", text)
    page.click("#refresh-btn")
    page.wait_for_selector("#recipients[data-channels='email'][data-fresh='1']")
    page.click("#send-btn")
    page.click("#confirm-yes")
    page.wait_for_selector("#send-result .progress")


def test_a_corrected_message_after_back_and_forward_is_sent(logged_in_page, live_server, monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    User = get_user_model()
    for name in ("ana", "ben"):
        User.objects.create_user(name, email=f"{name}@clinic.example", first_name=name.title(), last_name="Staff")
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/")
    page.select_option("#id_message_type", label="Ad Hoc (staff users)")
    page.check("label.method:has-text('Email') input")
    send_staff_message(page, "Team meeting moved to 3 PM")
    assert Broadcast.objects.count() == 1

    page.go_back()
    page.go_forward()
    page.wait_for_selector("#id_description")
    if page.locator("#id_message_type").input_value() == "":  # a fresh page, not a restored one
        page.select_option("#id_message_type", label="Ad Hoc (staff users)")
    if not page.locator("label.method:has-text('Email') input").is_checked():
        page.check("label.method:has-text('Email') input")
    send_staff_message(page, "Team meeting moved to 4 PM")

    descriptions = set(Broadcast.objects.values_list("description", flat=True))
    assert descriptions == {"Team meeting moved to 3 PM", "Team meeting moved to 4 PM"}
    page.goto(f"{live_server.url}/messaging/history/")
    assert "Team meeting moved to 4 PM" in page.locator("#history-table").inner_text()
