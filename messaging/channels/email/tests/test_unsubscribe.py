"""Our own one-click unsubscribe (RFC 8058): public page and List-Unsubscribe=One-Click POST."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from bounces.models import DnsReason, DoNotSendEntry
from bounces.tests.deliveries import make_delivery
from messaging.channels.email.transport import EmailTransport, unsubscribe_url

pytestmark = pytest.mark.django_db


def url_for(delivery: Any) -> str:
    return reverse("email-unsubscribe", kwargs={"token": delivery.token})


def list_unsubscribe_headers(delivery: Any) -> dict[str, str]:
    """The headers the e-mail transport puts on a message to ``delivery``."""
    rendered: Any = SimpleNamespace(email_subject="Hello", email_text="Hello", email_html="")
    return EmailTransport().build(delivery, rendered).extra_headers


def test_get_shows_a_confirm_page_and_changes_nothing() -> None:
    delivery = make_delivery(address="reader@example.org")
    response = Client().get(url_for(delivery))
    assert response.status_code == 200
    html = response.content.decode()
    assert "reader@example.org" in html
    assert '<form method="post"' in html and 'name="List-Unsubscribe" value="One-Click"' in html
    assert not DoNotSendEntry.objects.exists()  # link scanners GET links: no side effects


def test_one_click_post_needs_no_login_nor_csrf_and_is_idempotent() -> None:
    delivery = make_delivery(address="Reader@Example.org")
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):
        response = client.post(
            url_for(delivery), data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200
        assert "will receive no more e-mail messages" in response.content.decode()
    entry = DoNotSendEntry.objects.get()
    assert (entry.channel, entry.address, entry.reason) == ("email", "reader@example.org", DnsReason.UNSUBSCRIBE)
    assert entry.category == "DNS"
    assert entry.source_delivery == delivery
    assert entry.note == "List-Unsubscribe one-click POST"


def test_after_unsubscribing_the_page_says_so() -> None:
    delivery = make_delivery(address="done@example.org")
    Client().post(url_for(delivery), {"List-Unsubscribe": "One-Click"})
    html = Client().get(url_for(delivery)).content.decode()
    assert "will receive no more e-mail messages" in html and "<form" not in html


@pytest.mark.parametrize("token", ["nonsense", "1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "999999"])
def test_unknown_or_forged_tokens_are_404(token: str) -> None:
    make_delivery()
    response = Client().post(reverse("email-unsubscribe", kwargs={"token": token}), {})
    assert response.status_code == 404
    assert Client().get(reverse("email-unsubscribe", kwargs={"token": token})).status_code == 404
    assert not DoNotSendEntry.objects.exists()


def test_token_of_a_non_email_delivery_is_404() -> None:
    sms = make_delivery(channel="sms", address="+16175550111")
    assert Client().post(url_for(sms), {}).status_code == 404


def test_the_headers_point_at_the_endpoint() -> None:
    delivery = make_delivery(address="hdr@example.org")
    headers = list_unsubscribe_headers(delivery)
    target = headers["List-Unsubscribe"].strip("<>")
    assert target.endswith(url_for(delivery))
    path = target[target.index("/bounces/") :]
    assert Client().post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert DoNotSendEntry.objects.filter(address="hdr@example.org", active=True).exists()


def test_the_delivery_token_works_as_link_too() -> None:
    """The e-mail transport may link with the delivery's own (unguessable) token."""
    delivery = make_delivery(address="plain@example.org")
    url = reverse("email-unsubscribe", kwargs={"token": delivery.token})
    assert Client().get(url).status_code == 200
    assert Client().post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert DoNotSendEntry.objects.filter(address="plain@example.org", active=True).exists()
    sms = make_delivery(channel="sms", address="+16175550112")
    assert Client().get(reverse("email-unsubscribe", kwargs={"token": sms.token})).status_code == 404


def test_the_transport_headers() -> None:
    """(Was bounces' own header builder, now the e-mail transport's.)"""
    delivery = make_delivery(address="reader@example.org")
    headers = list_unsubscribe_headers(delivery)
    assert headers["List-Unsubscribe"] == f"<{unsubscribe_url(delivery.token)}>"
    assert headers["List-Unsubscribe"].startswith("<http")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["X-PIMSY-Delivery"] == delivery.token
