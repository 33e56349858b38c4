"""The portal channel in a real browser: staff send a portal message from the New tab, the client is
told by e-mail (no PHI) and reads the message in the portal; History shows it delivered."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from clients.models import ContactMethod, PortalAccount
from clients.tests.factories import make_client
from core import clock
from messaging import dispatch
from messaging.models import Delivery, Status
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEWS = "Your care plan review notes are ready to read."


def drain() -> None:
    for _ in range(5):
        claims = list(dispatch.claim_due(now=clock.now()))
        if not claims:
            return
        for claim in claims:
            dispatch.send_claimed(claim.ids, claim.token)


def test_portal_message_from_the_new_tab_to_the_portal_inbox(logged_in_page, live_server, monkeypatch, page):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)  # this test runs the dispatcher itself
    setting_update(number=620, value="yes")
    clear_cache()
    rosa = make_client(first_name="Rosa", last_name="Reyes", preferred=ContactMethod.EMAIL)
    user = get_user_model().objects.create_user("rosa.reyes", password="Portal-pass-123!")
    PortalAccount.objects.create(client=rosa, user=user)
    make_client(first_name="Omar", last_name="Haddad")  # no portal account

    staff = logged_in_page
    staff.goto(f"{live_server.url}/messaging/")
    staff.select_option("#id_message_type", label="Ad Hoc (clients)")
    staff.fill("#id_description", NEWS)
    staff.check("label.method:has-text('Portal message') input")
    staff.wait_for_selector("#message-contents .preview-portal")
    staff.click("#refresh-btn")
    staff.wait_for_selector("#recipients[data-channels='portal'][data-fresh='1']")
    assert staff.locator("#send-btn").inner_text() == "Send Portal Message"
    assert "rosa.reyes" in staff.locator("#recipient-table tr", has_text="Reyes, Rosa").inner_text()
    assert "No client portal account" in staff.locator("#excluded-list li", has_text="Haddad, Omar").inner_text()
    staff.click("#send-btn")
    staff.click("#confirm-yes")
    staff.wait_for_selector("#send-result .progress")

    drain()  # the portal message, then the notice it asked for
    portal = Delivery.objects.get(client=rosa, channel="portal")
    assert portal.status == Status.DELIVERED
    [notice] = mail.outbox
    assert "secure message" in notice.body and "care plan" not in notice.body and "Rosa" not in notice.body

    staff.goto(f"{live_server.url}/messaging/history/")
    rows = staff.locator("#history-table tr", has_text="Reyes, Rosa")
    assert "Portal message" in rows.filter(has_text="Ad Hoc (clients)").inner_text()
    assert "Delivered" in rows.filter(has_text="Ad Hoc (clients)").inner_text()
    notice_row = rows.filter(has_text="Portal Message Notice").inner_text()
    assert "Email" in notice_row and "Sent" in notice_row

    # The client, in a browser of their own, logs in to the portal and reads it.
    client_page = page.context.browser.new_context().new_page()
    client_page.goto(f"{live_server.url}/portal/login/")
    client_page.fill("input[name=username]", "rosa.reyes")
    client_page.fill("input[name=password]", "Portal-pass-123!")
    client_page.click("button[type=submit]")
    client_page.wait_for_url(f"{live_server.url}/portal/")
    client_page.click(f"a[href='/portal/messages/{portal.pk}/']")
    assert NEWS in client_page.locator("main").inner_text()
    client_page.screenshot(path="/tmp/portal_message.png", full_page=True)
    client_page.context.close()
