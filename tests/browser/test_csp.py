"""The Content-Security-Policy (issue 13, row 9) breaks no screen: no violation on any of them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from clients.tests.factories import make_client
from messaging.models import MessageType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = (
    "/",
    "/messaging/",
    "/messaging/history/",
    "/messaging/appointments/",
    "/messaging/failures/",
    "/bounces/do-not-send/",
    "/admin/",
    "/admin/messaging/messagetype/",
    "/admin/messaging/templateversion/",
    "/admin/clients/client/add/",
    "/admin/clients/client/",
)


def test_no_screen_violates_the_content_security_policy(page, live_server):
    get_user_model().objects.create_superuser("root", password="root-pass-1234")
    make_client(first_name="Ana", last_name="Lopez")
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "root-pass-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    for path in (*SCREENS, f"/admin/messaging/messagetype/{ad_hoc.pk}/change/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status < 400, path
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/messaging/")
    page.select_option("#id_message_type", label="Ad Hoc (clients)")
    page.check("label.method:has-text('Text (SMS)') input")
    page.wait_for_selector("#message-contents .preview-sms")  # htmx swaps work under the policy
    assert violations == []
