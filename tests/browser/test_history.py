"""Seed "Pulling historical messages": History rows, columns rearranged by dragging, saved per user."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from messaging.models import Broadcast, Delivery, HistoryLayout, MessageType, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = [
    # name, channel, address, status, category, hard, attempts
    ("Alvarez, Maria", "sms", "+16175551001", Status.DELIVERED, "", None, 1),
    ("Chen, David", "email", "david.chen@example.org", Status.FAILED, "Bad-Mailbox", True, 1),
    ("Patel, Priya", "email", "priya.patel@example.net", Status.FAILED, "Quota-Issues", False, 3),
    ("Okafor, Samuel", "sms", "+16175551005", Status.SUPPRESSED, "DNS", True, 0),
    ("Kim, Grace", "voice", "+16175551006", Status.SENT, "", None, 2),
    ("Nguyen, Ethan", "sms", "+16175550199", Status.QUEUED, "", None, 0),
    ("Garcia, Sofia", "fax", "+16175558004", Status.DELIVERED, "", None, 1),
    ("Brown, Leo", "voice", "+16175551010", Status.FAILED, "No-Answer-From-Host", False, 3),
]


def history_rows(user):
    reminder = MessageType.objects.get(code="client-upcoming-appointment")
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    now = timezone.now()
    first = Broadcast.objects.create(
        message_type=reminder,
        broadcast_at=now,
        created_by=user,
        channels=["sms", "email"],
        description="Reminders for next week",
    )
    second = Broadcast.objects.create(
        message_type=ad_hoc,
        broadcast_at=now,
        created_by=user,
        channels=["voice", "fax"],
        description="Office closed Monday (holiday)",
    )
    for i, (name, channel, address, status, category, hard, attempts) in enumerate(ROWS):
        broadcast = first if channel in ("sms", "email") else second
        sent = now - dt.timedelta(minutes=40 - i) if status not in (Status.QUEUED, Status.SUPPRESSED) else None
        Delivery.objects.create(
            broadcast=broadcast,
            message_type=broadcast.message_type,
            channel=channel,
            recipient_name=name,
            address=address,
            address_source="chart",
            status=status,
            bounce_category=category,
            hard_bounce=hard,
            attempt_count=attempts,
            sent_at=sent,
            created_at=now - dt.timedelta(minutes=45 - i),
        )


def header_order(page):
    return page.eval_on_selector_all("#history-head th[data-col]", "els => els.map(e => e.dataset.col)")


def drag(page, source, target):
    """Drag one heading onto another with real mouse moves (SortableJS fallback mode)."""
    a = page.locator(source).bounding_box()
    b = page.locator(target).bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(a["x"] + (b["x"] + 5 - a["x"]) * step / 10, a["y"] + a["height"] / 2)
        page.wait_for_timeout(20)
    page.mouse.up()


def test_history_rows_and_drag_a_column_order_kept_after_reload(logged_in_page, live_server, staff_user):
    history_rows(staff_user)
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/history/")
    table = page.locator("#history-table")
    assert "Chen, David" in table.inner_text() and "Bad-Mailbox" in table.inner_text()
    tip = page.locator("#history-table td[title]", has_text="Bad-Mailbox").get_attribute("title")
    assert tip.startswith("The email box is invalid. Check the e-mail address")  # the e-mail channel's words
    page.screenshot(path="/tmp/history_tab.png", full_page=True)

    before = header_order(page)
    assert before[:3] == ["sent_at", "recipient", "recipient_type"]
    with page.expect_response(lambda r: "/messaging/history/layout/" in r.url and r.status == 200):
        drag(page, "#history-head th[data-col='status']", "#history-head th[data-col='sent_at']")
    expect(page.locator("#history-head th").first).to_have_attribute("data-col", "status")
    moved = header_order(page)
    assert moved[0] == "status" and moved.count("status") == 1 and len(moved) == len(before)
    assert HistoryLayout.objects.get(user=staff_user).columns == moved

    page.reload()
    assert header_order(page) == moved
    first_cells = page.eval_on_selector_all(
        "#history-table tbody tr:first-child td", "els => els.map(e => e.innerText)"
    )
    assert first_cells[0] in {"Queued", "Delivered", "Failed", "Sent", "Suppressed"}


def test_add_and_remove_columns_and_filter(logged_in_page, live_server, staff_user):
    history_rows(staff_user)
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/history/")
    page.click("#columns-panel summary")
    with page.expect_response(lambda r: "/layout/" in r.url):
        page.click("#available-columns li[data-col='error_detail'] .chip-btn")
    page.wait_for_selector("#history-head th[data-col='error_detail']")
    with page.expect_response(lambda r: "/layout/" in r.url):
        page.click("#shown-columns li[data-col='sent_by'] .chip-btn[data-action='remove']")
    page.wait_for_selector("#history-head th[data-col='sent_by']", state="detached")
    assert page.locator("#columns-panel").get_attribute("open") is not None  # the panel stays open
    page.reload()
    order = header_order(page)
    assert order[-1] == "error_detail" and "sent_by" not in order

    page.select_option("#id_status", "failed")
    expect(page.locator("#history-table")).not_to_contain_text("Alvarez")
    text = page.locator("#history-table").inner_text()
    assert "Chen, David" in text and "Patel, Priya" in text and "Alvarez" not in text
    page.select_option("#id_bounce", "soft")
    expect(page.locator("#history-table")).not_to_contain_text("Chen, David")
    assert "status=failed" in page.url and "bounce=soft" in page.url
    assert "bounce=soft" in page.locator("#export-csv").get_attribute("href")

    page.click("#history-table tr:has-text('Patel, Priya') td.fixed a")
    page.wait_for_selector("#timeline")
    assert "Quota-Issues" in page.locator("#delivery-category").inner_text()
    page.screenshot(path="/tmp/delivery_detail.png", full_page=True)


def test_columns_move_with_the_keyboard_alone_and_focus_stays_on_the_moved_column(
    logged_in_page, live_server, staff_user
):
    history_rows(staff_user)
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/history/")
    page.focus("#columns-panel summary")
    page.keyboard.press("Enter")  # opens the Columns panel
    before = header_order(page)
    at = before.index("status")
    page.focus("#shown-columns li[data-col='status'] .chip-btn[data-action='earlier']")
    for moves in (1, 2):
        with page.expect_response(lambda r: "/layout/" in r.url and r.status == 200):
            page.keyboard.press("Enter")
        expect(page.locator("#history-head th").nth(at - moves)).to_have_attribute("data-col", "status")
        # Focus comes back to the moved column's button once the panel is re-drawn: Enter moves it again.
        focused = None
        for _ in range(50):  # (wait_for_function evaluates a string: the page's CSP forbids that)
            focused = page.evaluate(
                "[document.activeElement.closest('li')?.dataset.col, document.activeElement.dataset.action]"
            )
            if focused == ["status", "earlier"]:
                break
            page.wait_for_timeout(100)
        assert focused == ["status", "earlier"]
    assert "column " + str(at - 1) in page.locator("#columns-announce").inner_text()
    assert HistoryLayout.objects.get(user=staff_user).columns.index("status") == at - 2
