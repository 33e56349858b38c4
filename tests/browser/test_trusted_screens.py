"""Issue 15 in a real browser: Failure Summary charts, one phone format, the chart's Messaging Contact
warning and labelled change history, and History's default columns fitting a laptop."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bounces.taxonomy import Category
from clients.tests.factories import make_client
from messaging.models import Status
from messaging.tests.dispatch_support import make_delivery
from tests.browser.test_accessibility import serious
from tests.browser.test_history import history_rows
from tests.browser.test_phone_widths import OVERFLOW

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_DESCRIPTION = (
    "Office closed Monday for the holiday; all appointments moved to Tuesday at the same time, please call the "
    "front desk if Tuesday does not work for you and we will find another time that suits you and your clinician"
)

# Whether a canvas has anything drawn on it (not one transparent pixel after another).
DRAWN = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !window.Chart.getChart(canvas)) return false;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""


def _failures_today() -> None:
    now = timezone.now()
    for channel, status, category in (
        ("sms", Status.FAILED, "Bad-Mailbox"),
        ("sms", Status.FAILED, "Bad-Mailbox"),
        ("sms", Status.DELIVERED, ""),
        ("email", Status.FAILED, "Quota-Issues"),
        ("voice", Status.FAILED, "No-Answer-From-Host"),
    ):
        make_delivery(
            channel=channel,
            status=status,
            bounce_category=category,
            hard_bounce=Category(category).hard if category else None,
            finished_at=now,
            next_attempt_at=None,
        )


def _csp_watch(page) -> list[str]:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


def test_failure_summary_draws_its_charts_from_the_tables_numbers(logged_in_page, live_server):
    _failures_today()
    page = logged_in_page
    violations = _csp_watch(page)
    page.goto(f"{live_server.url}/messaging/failures/")
    page.wait_for_load_state("networkidle")
    for canvas in ("chart-outcomes-sms", "chart-outcomes-email", "chart-outcomes-voice", "chart-categories"):
        assert page.evaluate(DRAWN, canvas), canvas
    data = json.loads(page.locator("#summary-chart-data").text_content())
    table = {
        row.get_attribute("data-category"): int(row.locator("td").last.inner_text())
        for row in page.locator("#summary-table tbody tr:not(.zero)").all()
    }
    assert (
        {c["category"]: c["total"] for c in data["categories"]}
        == table
        == {
            "Bad-Mailbox": 2,
            "Quota-Issues": 1,
            "No-Answer-From-Host": 1,
        }
    )
    sms = next(c for c in data["channels"] if c["key"] == "sms")
    assert (sms["totals"]["delivered"], sms["totals"]["failed"]) == (1, 2)
    # The text alternative: the same numbers in the canvas's label and the Numbers table.
    label = page.locator("#chart-outcomes-sms").get_attribute("aria-label")
    assert "3 deliveries" in label and "1 delivered" in label and "2 failed" in label
    page.click("figure[data-channel='sms'] details.chart-numbers summary")
    today = timezone.localdate().isoformat()
    assert page.locator("#chart-table-sms tbody tr").first.inner_text().split("\t")[:5] == [today, "1", "0", "0", "2"]
    assert "Bad-Mailbox 2 (hard)" in page.locator("#chart-categories").get_attribute("aria-label")
    assert serious(page) == []  # axe, with the charts drawn and a Numbers table open

    # The channel filter swaps the summary in (htmx): the charts are drawn again for that channel.
    page.select_option("#id_channel", "email")
    expect(page.locator("#chart-outcomes-sms")).to_have_count(0)
    page.wait_for_selector("#chart-outcomes-email")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(DRAWN, "chart-outcomes-email")
    assert violations == []


@pytest.mark.parametrize("width", [390, 1366])
def test_failure_summary_charts_fit_phones_and_laptops(_playwright_browser, live_server, staff_user, width):
    _failures_today()
    context = _playwright_browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "staff-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/messaging/failures/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(DRAWN, "chart-categories")
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= width + 1, found
    for canvas in page.locator("canvas").all():
        box = canvas.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    page.screenshot(path=f"/tmp/failure_summary_{width}.png", full_page=True)
    context.close()


def test_history_default_columns_fit_a_laptop_and_long_text_is_cut(_playwright_browser, live_server, staff_user):
    history_rows(staff_user)
    make_delivery(
        channel="sms",
        address="+13035550199",
        description=LONG_DESCRIPTION,
        recipient_name="Lopez-Villanueva, Ana Maria",
        status=Status.DELIVERED,
        sent_at=timezone.now() - dt.timedelta(minutes=1),
    )
    make_delivery(channel="voice", address="+442079460958", status=Status.SENT, sent_at=timezone.now())
    context = _playwright_browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "staff-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/messaging/history/")
    page.wait_for_load_state("networkidle")
    widths = page.evaluate(
        """() => {
          const box = document.querySelector('.history-scroll');
          return {page: document.documentElement.scrollWidth, table: document.getElementById('history-table')
            .getBoundingClientRect().width, box: box.clientWidth, boxScroll: box.scrollWidth};
        }"""
    )
    cols = page.eval_on_selector_all(
        "#history-head th", "els => els.map(e => [e.dataset.col, Math.round(e.getBoundingClientRect().width)])"
    )
    assert widths["page"] <= 1366 and widths["boxScroll"] <= widths["box"] + 1, f"{widths} {cols}"
    page.screenshot(path="/tmp/history_1366.png", full_page=True)

    # The long description: one line with an ellipsis; its whole text on hover (title) and keyboard focus.
    cell = page.locator("#history-table td.c-description", has_text="Office closed Monday for the holiday")
    assert cell.get_attribute("title") == LONG_DESCRIPTION
    assert "clipped" in cell.get_attribute("class") and cell.get_attribute("tabindex") == "0"
    one_line = cell.bounding_box()["height"]
    assert one_line < 40  # one line (the row of a badge)
    cell.focus()
    assert page.evaluate("document.activeElement.classList.contains('c-description')")
    assert cell.bounding_box()["height"] > 2 * one_line  # the whole text shows while focused
    assert serious(page) == []  # axe, with cut cells focusable
    short = page.locator("#history-table td.c-channel").first
    assert short.get_attribute("tabindex") is None  # only cut cells take focus

    # One phone format: the clinic's country national, another country international.
    text = page.locator("#history-table").inner_text()
    assert "(303) 555-0199" in text and "+44 20 7946 0958" in text and "(617) 555-1001" in text
    assert "+13035550199" not in text and "+16175551001" not in text

    # Phones: the cut cell still opens on a tap (focus) inside the table's own scroll box.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate(OVERFLOW)["scroll"] <= 391
    page.evaluate("document.activeElement.blur()")
    assert cell.bounding_box()["height"] <= one_line + 1
    cell.click()  # a tap focuses the cell
    assert cell.bounding_box()["height"] > 2 * one_line
    context.close()


def test_client_chart_warns_when_messages_cannot_be_sent_and_labels_its_history(logged_in_page, live_server):
    client = make_client(first_name="Imani", last_name="Brooks", cell_phone="+13035550123")
    page = logged_in_page
    page.goto(f"{live_server.url}/clients/{client.pk}/")
    expect(page.locator("#contact-warning")).to_have_text("")
    section = page.locator("#messaging-profile")
    section.locator("input[name=use_client_detail_info][value=False]").check()
    section.locator("button:has-text('Save')").first.click()
    warning = page.locator("#contact-warning .alert")
    expect(warning).to_contain_text("cannot be sent to this client")
    expect(warning).to_contain_text("no Messaging Contact is entered")
    assert serious(page) == []  # axe, with the warning shown
    page.click("#messaging-profile summary:has-text('Change history')")
    history = page.locator("#change-history").inner_text()
    assert "Use Client Detail Info.: Yes → No" in history and "use_client_detail_info" not in history

    # A Messaging Contact with a cell phone: the warning goes, without a reload.
    page.click("button:has-text('Messaging Contact')")
    page.fill("#messaging-contact input[name=cell_phone]", "303 555 0188")
    page.click("#messaging-contact button:has-text('Save Messaging Contact')")
    expect(page.locator("#messaging-contact")).to_contain_text("(303) 555-0188")
    expect(page.locator("#contact-warning")).to_have_text("")
    page.reload()
    page.click("#messaging-profile summary:has-text('Change history')")
    history = page.locator("#change-history").inner_text()
    assert "Messaging Contact: Cell phone: (empty) → (303) 555-0188" in history
    assert "+13035550188" not in page.locator("main").inner_text()
