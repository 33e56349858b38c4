"""Issue 13, row 4: an unattended screen with a running broadcast is still logged off."""

from __future__ import annotations

import pytest

from clients.tests.factories import make_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_idle_screen_polling_a_running_broadcast_is_logged_off(page, staff_user, live_server, monkeypatch, settings):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)  # the broadcast never finishes
    # Set before signing in: a session saved at sign-in with the default 30 minutes keeps them until a
    # request of the user refreshes it, and the requests below may all fall within one refresh period.
    settings.SESSION_COOKIE_AGE = 8  # seconds of idleness before the log-off
    settings.SESSION_REFRESH_SECONDS = 1
    make_client(first_name="Ana", last_name="Lopez")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "staff-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/messaging/")
    page.select_option("#id_message_type", label="Ad Hoc (clients)")
    page.fill("#id_description", "Office closed Friday")
    page.check("label.method:has-text('Text (SMS)') input")
    page.click("#refresh-btn")
    page.wait_for_selector("#recipients[data-channels='sms'][data-fresh='1']")
    page.click("#send-btn")
    page.click("#confirm-yes")
    page.wait_for_selector("#send-result .progress[hx-trigger]")  # polling every 2 s
    # Nobody touches the screen: the polls go on, the session ends, the page goes to the login.
    page.wait_for_url("**/accounts/login/?next=/messaging/&ended=1", timeout=30_000)
    assert page.locator("input[name=password]").is_visible()
    assert "Your session ended" in page.locator("#session-ended").inner_text()


def test_a_minute_before_the_log_off_a_notice_offers_to_stay(logged_in_page, live_server, settings):
    settings.SESSION_COOKIE_AGE = 63  # the notice comes after 3 s
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/history/")
    page.wait_for_selector("#idle-warning", timeout=15_000)
    assert "logged off in about a minute" in page.locator("#idle-warning").inner_text()
    page.click("#idle-warning button")
    page.wait_for_selector("#idle-warning", state="detached")


def test_the_simulators_page_polls_as_a_background_poll_within_the_policy(
    logged_in_page, staff_user, live_server, settings
):
    """The demo's Provider Simulators page re-draws itself every 3 s: each poll says so (it never keeps the
    session alive), and the header breaks no rule of the Content-Security-Policy."""
    settings.DEMO_MODE = True
    staff_user.is_staff = True  # the page is for staff only (read again on each request)
    staff_user.save()
    page = logged_in_page
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/messaging/simulators/")
    with page.expect_request(lambda r: "/messaging/simulators/" in r.url and "hx-request" in r.headers) as poll:
        pass  # the first poll comes after 3 s
    assert poll.value.headers.get("x-background-poll") == "1"
    assert violations == []
