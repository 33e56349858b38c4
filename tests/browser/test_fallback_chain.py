"""Issue 14 §5 in a real browser: a text that failed fell back to a call; the detail pages link the two."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from clients.tests.factories import make_client
from messaging.fallback import fallback_after
from messaging.models import MessageType, Status
from messaging.tests.dispatch_support import make_delivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_chain_is_shown_and_followed_from_the_call_back_to_the_text(logged_in_page, live_server, staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_history"))
    kind = MessageType.objects.get(code="ad-hoc-clients")
    kind.fallback_channels = ["sms", "voice", "email"]
    kind.save()
    text = make_delivery(
        client=make_client(first_name="Ana", last_name="Lopez", cell_phone="+16175550002"),
        status=Status.FAILED,
        bounce_category="Bad-Mailbox",
        hard_bounce=True,
    )
    call = fallback_after(text)
    page = logged_in_page
    page.goto(f"{live_server.url}/messaging/history/{call.pk}/")
    chain = page.locator("#fallback-chain")
    assert "Voice to (617) 555-0002" in chain.inner_text() and "(this message)" in chain.inner_text()
    chain.get_by_role("link", name="Text (SMS) to (617) 555-0002").click()
    page.wait_for_url(f"{live_server.url}/messaging/history/{text.pk}/")
    assert "Bad-Mailbox" in page.locator("#fallback-chain").inner_text()
    assert page.locator("#fallback-chain").get_by_role("link", name="Voice to (617) 555-0002").is_visible()
