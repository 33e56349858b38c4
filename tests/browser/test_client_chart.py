"""Seed Step 1 in a real browser: open a client, change consent and preferred method, see it saved."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from clients.models import Client
from clients.tests.factories import make_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_contacts_tab_consent_and_preference_saved(logged_in_page, live_server):
    client = make_client(first_name="Imani", last_name="Brooks", consent=False, preferred="text")
    page = logged_in_page
    page.goto(f"{live_server.url}/")
    page.hover("text=Clients")
    page.click("text=Client Management")
    page.fill("input[name=q]", "Brooks")
    page.wait_for_selector("text=Brooks, Imani")
    page.click("text=Brooks, Imani")
    page.click("a.tab:has-text('Contacts')")
    page.wait_for_selector("text=Client Automated Messaging Contact")

    section = page.locator("#messaging-profile")
    section.locator("input[name=consent_given][value=True]").check()
    section.locator("select[name=preferred_contact_method]").select_option(label="Email")
    section.locator("button:has-text('Save')").first.click()
    page.wait_for_selector("#consent-audit")
    assert "by staff" in page.locator("#consent-audit").inner_text()
    page.wait_for_selector(".toast:has-text('saved')")
    # Focus stays in the saved section (its Save button), not dropped to the page body. It is put back
    # when htmx settles the swap (20 ms after it), so after the toast has appeared: wait for it.
    expect(page.locator("#messaging-profile button:focus")).to_have_count(1)

    page.reload()
    assert page.locator("#messaging-profile input[name=consent_given][value=True]").is_checked()
    assert page.locator("#messaging-profile select[name=preferred_contact_method]").input_value() == "email"
    client = Client.objects.select_related("messaging").get(pk=client.pk)
    assert client.messaging.consent_given is True
    assert client.messaging.preferred_contact_method == "email"
    page.screenshot(path="/tmp/contacts_tab.png", full_page=True)


def test_invalid_phone_shows_error_next_to_field(logged_in_page, live_server):
    client = make_client(first_name="Rafael", last_name="Ortiz")
    page = logged_in_page
    page.goto(f"{live_server.url}/clients/{client.pk}/?tab=basic")
    page.fill("#contact-info input[name=cell_phone]", "12345")
    page.click("#contact-info button:has-text('Save contact information')")
    error = page.locator("#field-cell_phone .field-error")
    error.wait_for()
    assert "Enter a valid phone number" in error.inner_text()
    assert str(Client.objects.get(pk=client.pk).cell_phone) == str(client.cell_phone)
