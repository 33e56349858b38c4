"""Issue 15 §4: a toast stays at least setting 420's time, longer while pointed at, and can be closed."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_toast_stays_while_pointed_at_and_closes_with_its_button(logged_in_page, live_server):
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/history/")
    page.evaluate("document.body.dataset.toastSeconds = '1'")
    page.evaluate("window.pimsyToast('Broadcast #7 created: 3 messages queued.', 'success')")
    toast = page.locator(".toast", has_text="Broadcast #7 created")
    toast.hover()
    page.wait_for_timeout(2500)  # past its minimum time, but the pointer is on it
    assert toast.is_visible()
    page.mouse.move(5, 5)
    toast.wait_for(state="detached", timeout=4000)
    page.evaluate("window.pimsyToast('Second message', '')")
    second = page.locator(".toast", has_text="Second message")
    box = second.bounding_box()
    assert box is not None and box["y"] > page.viewport_size["height"] / 2  # at the bottom, off the page's buttons
    second.get_by_role("button", name="Close this message").click()
    second.wait_for(state="detached", timeout=2000)
