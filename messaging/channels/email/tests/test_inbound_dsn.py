"""Bounce e-mails (DSNs) from self-hosted SMTP, fed in through anymail's inbound webhook."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from bounces.models import DnsReason, DoNotSendEntry, SoftBounce
from bounces.tests.deliveries import make_delivery
from messaging.channels.email.inbound import dsn_ingest_bytes, original_reference
from messaging.models import Delivery, ProviderEvent

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent / "fixtures"
SECRET = "pimsy-test:inbound-secret"
ANYMAIL_TEST = {**settings.ANYMAIL, "WEBHOOK_SECRET": [SECRET]}


def returned(recipient: str, *, token: str = "", message_id: str = "unrelated@app1.clinic.example") -> str:
    text = (HERE / "inbound" / "postfix_returned_with_original.eml").read_text()
    return text.replace("__RECIPIENT__", recipient).replace("__TOKEN__", token).replace("__MESSAGE_ID__", message_id)


def helper_a_fixture(name: str) -> bytes:
    return (HERE / "dsn" / name).read_bytes()


def post_inbound(raw: str, message_id: str = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817") -> Any:
    """Postmark's inbound webhook with the full message in RawEmail (as Postmark sends it)."""
    payload = {
        "FromName": "Mail Delivery System",
        "MessageStream": "inbound",
        "From": "MAILER-DAEMON@mail.clinic.example",
        "FromFull": {"Email": "MAILER-DAEMON@mail.clinic.example", "Name": "Mail Delivery System"},
        "To": "bounces@clinic.example",
        "ToFull": [{"Email": "bounces@clinic.example", "Name": ""}],
        "OriginalRecipient": "bounces@clinic.example",
        "Subject": "Undelivered Mail Returned to Sender",
        "MessageID": message_id,
        "Date": "Mon, 2 Mar 2026 10:00:07 -0500",
        "Headers": [{"Name": "Return-Path", "Value": "<>"}],
        "RawEmail": raw,
    }
    auth = "Basic " + base64.b64encode(SECRET.encode()).decode()
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        return Client().post(
            "/anymail/postmark/inbound/",
            data=json.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )


def test_original_reference_reads_our_header_and_message_id() -> None:
    from email import message_from_string

    ref = original_reference(message_from_string(returned("a@example.net", token="tok-1", message_id="m1@x")))
    assert (ref.token, ref.message_id) == ("tok-1", "<m1@x>")


def test_dsn_matched_by_our_delivery_header() -> None:
    target = make_delivery(address="gone@example.net")
    other = make_delivery(address="gone@example.net")  # a later delivery to the same address
    response = post_inbound(returned("gone@example.net", token=target.token))
    assert response.status_code == 200
    target.refresh_from_db()
    other.refresh_from_db()
    assert (target.status, target.bounce_category, target.hard_bounce) == ("failed", "Bad-Mailbox", True)
    assert other.status == "sent"
    entry = DoNotSendEntry.objects.get(address="gone@example.net")
    assert entry.reason == DnsReason.HARD_BOUNCE and entry.source_delivery == target
    event = ProviderEvent.objects.get(delivery=target)
    assert event.provider == "dsn:postmark" and event.event_type == "dsn-failed"


def test_dsn_matched_by_message_id() -> None:
    target = make_delivery(address="moved@example.net", provider_message_id="<177246.42@app1.clinic.example>")
    make_delivery(address="moved@example.net")
    assert post_inbound(returned("moved@example.net", message_id="177246.42@app1.clinic.example")).status_code == 200
    target.refresh_from_db()
    assert target.status == "failed" and target.bounce_category == "Bad-Mailbox"


def test_dsn_matched_by_recipient_and_recent_delivery() -> None:
    older = make_delivery(address="nosuchuser@example.org")
    newest = make_delivery(address="nosuchuser@example.org")
    Delivery.objects.filter(pk=older.pk).update(sent_at=newest.sent_at.replace(year=newest.sent_at.year - 1))
    assert dsn_ingest_bytes(helper_a_fixture("postfix_user_unknown.eml")) == 2  # two failed recipients
    newest.refresh_from_db()
    older.refresh_from_db()
    assert newest.status == "failed" and newest.hard_bounce is True
    assert older.status == "sent"
    # The second recipient matches no delivery: kept, and still blocked (permanent failure).
    unmatched = ProviderEvent.objects.get(status="unmatched")
    assert unmatched.payload["recipient"] == "jane.doe@no-such-domain.example"
    assert DoNotSendEntry.objects.filter(address="jane.doe@no-such-domain.example", active=True).exists()


def test_delayed_dsn_keeps_the_delivery_out() -> None:
    delivery = make_delivery(address="slow.reader@sluggish-mx.example")
    assert dsn_ingest_bytes(helper_a_fixture("sendmail_delayed_4_4_7.eml")) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert delivery.status_reason.startswith("Delayed:")
    assert not DoNotSendEntry.objects.exists()


def test_soft_dsn_is_counted_and_resent() -> None:
    delivery = make_delivery(address="full.box@example.net")
    dsn_ingest_bytes(helper_a_fixture("exim_quota.eml"))
    delivery.refresh_from_db()
    assert (delivery.bounce_category, delivery.hard_bounce) == ("Quota-Issues", False)
    assert delivery.status == "queued" and delivery.resend_count == 1
    assert not SoftBounce.objects.filter(delivery=delivery).exists()  # counted only if it ends failed


def test_the_same_bounce_twice_is_applied_once() -> None:
    delivery = make_delivery(address="twice@example.net")
    raw = returned("twice@example.net", token=delivery.token)
    assert post_inbound(raw).status_code == 200
    assert post_inbound(raw).status_code == 200
    assert ProviderEvent.objects.filter(delivery=delivery).count() == 1
    assert DoNotSendEntry.objects.filter(address="twice@example.net").count() == 1


def test_ordinary_mail_is_left_alone() -> None:
    make_delivery(address="dr.jones@pimsy-clinic.example")
    assert dsn_ingest_bytes(helper_a_fixture("not_a_bounce.eml")) == 0
    assert post_inbound(helper_a_fixture("not_a_bounce.eml").decode()).status_code == 200
    assert not ProviderEvent.objects.exists()
    assert not DoNotSendEntry.objects.exists()


def test_inbound_webhook_needs_the_secret() -> None:
    delivery = make_delivery(address="auth@example.net")
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        response = Client().post(
            "/anymail/postmark/inbound/",
            data=json.dumps({"RawEmail": returned("auth@example.net", token=delivery.token)}),
            content_type="application/json",
        )
    assert response.status_code == 401
    delivery.refresh_from_db()
    assert delivery.status == "sent"
