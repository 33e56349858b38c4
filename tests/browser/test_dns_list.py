"""Utilities > Do-Not-Send List in a real browser: add an entry, find it, remove it with a reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bounces.models import DnsReason, DoNotSendEntry
from bounces.services import dns_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_search_and_remove_with_reason(logged_in_page, live_server, staff_user):
    dns_add(channel="sms", address="+16175550150", reason=DnsReason.SMS_STOP)
    page = logged_in_page
    page.goto(f"{live_server.url}/")
    page.hover("text=Utilities")
    page.click("text=Do-Not-Send List")
    page.wait_for_selector("h1:has-text('Do-Not-Send List')")
    assert page.locator("#dns-table").inner_text().count("(617) 555-0150") == 1  # one phone format (issue 15)

    # A bad address: the error appears next to the field and the note typed is kept.
    form = page.locator("#dns-add")
    form.locator("select[name=add-channel]").select_option(label="Email")
    form.locator("input[name=add-address]").fill("not-an-address")
    form.locator("input[name=add-note]").fill("Asked at the front desk")
    form.locator("button:has-text('Add to Do-Not-Send list')").click()
    error = page.locator("#field-add-address .field-error")
    error.wait_for()
    assert "Enter a valid e-mail address" in error.inner_text()
    assert page.locator("#dns-add input[name=add-note]").input_value() == "Asked at the front desk"

    page.locator("#dns-add input[name=add-address]").fill("Jordan.Lee@Example.org")
    page.locator("#dns-add button:has-text('Add to Do-Not-Send list')").click()
    page.wait_for_selector(".toast:has-text('added to the Do-Not-Send list')")
    row = page.locator("tr[data-address='jordan.lee@example.org']")
    row.wait_for()
    assert "Added by staff" in row.inner_text()
    entry = DoNotSendEntry.objects.get(address="jordan.lee@example.org")
    assert entry.created_by == staff_user and entry.note == "Asked at the front desk"

    # Search narrows the list (htmx, no reload).
    page.fill("#id_q", "jordan")
    expect(page.locator("#dns-table")).not_to_contain_text("(617) 555-0150")  # (no eval: the page's CSP)
    assert row.is_visible()
    page.screenshot(path="/tmp/dns_list.png", full_page=True)

    # Remove: a reason is required, then the row disappears and the removal is recorded.
    row.locator("summary:has-text('Remove')").click()
    row.locator("button:has-text('Remove entry')").click()
    assert DoNotSendEntry.objects.get(pk=entry.pk).active  # the browser refused the empty reason
    row.locator(f"input[name='remove-{entry.pk}-reason']").fill("Client asked to receive e-mail again")
    row.locator("button:has-text('Remove entry')").click()
    page.wait_for_selector(".toast:has-text('removed from the Do-Not-Send list')")
    page.wait_for_selector("tr[data-address='jordan.lee@example.org']", state="detached")
    entry.refresh_from_db()
    assert not entry.active
    assert entry.removal_reason == "Client asked to receive e-mail again"
    assert entry.removed_by == staff_user

    # The removed entry is still there, with its reason, when removed entries are shown.
    page.check("#id_show_removed")
    page.wait_for_selector("text=Client asked to receive e-mail again")
