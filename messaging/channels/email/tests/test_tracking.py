"""E-mail tracking webhooks, end to end through anymail's own views.

Real-shaped payloads (``fixtures/esp/*.json``, next to this file) for Amazon SES (via SNS), Mailgun,
Postmark, SparkPost and Brevo are POSTed to ``/anymail/<esp>/tracking/`` with the Django test
client; the checks are on the delivery (status, category, hard/soft), the soft-bounce rows and the
Do-Not-Send list. ``__DELIVERY_ID__`` in a fixture is replaced by the delivery's id (our metadata).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from bounces.models import DnsReason, DoNotSendEntry, SoftBounce
from bounces.tests.deliveries import make_delivery
from messaging.models import Delivery, ProviderEvent

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "esp"
WEBHOOK_SECRET = "pimsy-test:webhook-secret-1"
MAILGUN_KEY = "mailgun-test-signing-key"
ANYMAIL_TEST = {**settings.ANYMAIL, "WEBHOOK_SECRET": [WEBHOOK_SECRET], "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
ESPS = ["amazon_ses", "mailgun", "postmark", "sparkpost", "brevo"]
PREFIX = {"amazon_ses": "ses"}
FILE_CASE = {"hard": "hard_bounce", "soft": "soft_bounce"}

# What each fixture's message id is (the ESP's id for the message we sent).
MESSAGE_IDS = {
    "amazon_ses": "0100018e-ses-{case}-0001",
    "mailgun": "<20260302150000.1.{case}@mg.clinic.example>",
    "postmark": "883953f4-6105-42a2-a16a-77a8eac7948{case}",
    "sparkpost": "3050527740000000{case}",
    "brevo": "<202603021500.{case}@smtp-relay.mailin.fr>",
}
CASE_IDS = {
    "amazon_ses": {
        "hard": "hard",
        "soft": "soft",
        "deferral": "delay",
        "complaint": "complaint",
        "unsubscribe": "unsub",
    },
    "mailgun": {
        "hard": "HARD0001",
        "soft": "SOFT0001",
        "deferral": "DELAY001",
        "complaint": "CMPL0001",
        "unsubscribe": "UNSB0001",
    },
    "postmark": {"hard": "3", "soft": "4", "deferral": "5", "complaint": "6", "unsubscribe": "7"},
    "sparkpost": {"hard": "1", "soft": "2", "deferral": "3", "complaint": "4", "unsubscribe": "5"},
    "brevo": {"hard": "1" * 11, "soft": "2" * 11, "deferral": "3" * 11, "complaint": "4" * 11, "unsubscribe": "5" * 11},
}
RECIPIENT = {
    "hard": "pat.hard@example.org",
    "soft": "pat.soft@example.org",
    "deferral": "pat.delay@example.org",
    "complaint": "pat.complaint@example.org",
    "unsubscribe": "pat.unsub@example.org",
}
# Categories the classifier gives each ESP's soft bounce and deferral (read from the payloads).
SOFT_CATEGORY = {esp: "Quota-Issues" for esp in ESPS}
DEFERRAL_CATEGORY = {
    "amazon_ses": "Quota-Issues",
    "mailgun": "Policy-Related",
    "postmark": "Bad-Connection",
    "sparkpost": "Routing-Errors",
    "brevo": "Policy-Related",
}


def load(esp: str, case: str, delivery_id: str = "") -> Any:
    name = FILE_CASE.get(case, case)
    text = (FIXTURES / f"{PREFIX.get(esp, esp)}_{name}.json").read_text()
    text = text.replace("__DELIVERY_ID__", delivery_id)
    return json.loads(text)


def _auth(secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post(esp: str, payload: Any, *, auth: dict[str, str] | None = None) -> Any:
    """POST a payload the way the ESP does (SNS envelope for SES, signed JSON for Mailgun)."""
    client = Client()
    headers = _auth() if auth is None else auth
    url = f"/anymail/{esp}/tracking/"
    if esp == "amazon_ses":
        body = dict(payload, Message=json.dumps(payload["Message"]) + "\n")
        return client.post(
            url,
            data=json.dumps(body),
            content_type="text/plain; charset=UTF-8",
            HTTP_X_AMZ_SNS_MESSAGE_ID=body["MessageId"],
            HTTP_X_AMZ_SNS_MESSAGE_TYPE=body["Type"],
            **headers,
        )
    if esp == "mailgun":
        signature = payload["signature"]
        signed = f"{signature['timestamp']}{signature['token']}".encode()
        signature["signature"] = hmac.new(MAILGUN_KEY.encode(), signed, hashlib.sha256).hexdigest()
    return client.post(url, data=json.dumps(payload), content_type="application/json", **headers)


def delivery_for(esp: str, case: str, *, link: str) -> Delivery:
    """An e-mail delivery out with the ESP, matching the fixture by message id or by metadata."""
    message_id = MESSAGE_IDS[esp].format(case=CASE_IDS[esp][case])
    return make_delivery(address=RECIPIENT[case], provider_message_id=message_id if link == "message_id" else "")


def send(esp: str, case: str, *, link: str = "metadata") -> Delivery:
    delivery = delivery_for(esp, case, link=link)
    reference = str(delivery.pk) if link == "metadata" else ""
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        response = post(esp, load(esp, case, reference))
    assert response.status_code == 200, response.content
    delivery.refresh_from_db()
    return delivery


def dns(address: str) -> DoNotSendEntry | None:
    return DoNotSendEntry.objects.filter(channel="email", address=address, active=True).first()


# --- the five kinds of event, five ESPs, linked both ways ------------------------------------------


@pytest.mark.parametrize("link", ["metadata", "message_id"])
@pytest.mark.parametrize("esp", ESPS)
def test_hard_bounce_fails_the_delivery_and_blocks_the_address(esp: str, link: str) -> None:
    delivery = send(esp, "hard", link=link)
    assert delivery.status == "failed"
    assert delivery.bounce_category == "Bad-Mailbox"
    assert delivery.hard_bounce is True
    entry = dns("pat.hard@example.org")
    assert entry is not None
    assert entry.reason == DnsReason.HARD_BOUNCE
    assert entry.category == "Bad-Mailbox"
    assert entry.source_delivery_id == delivery.pk
    assert ProviderEvent.objects.filter(delivery=delivery, provider=f"anymail:{esp}").count() == 1


@pytest.mark.parametrize("esp", ESPS)
def test_soft_bounce_is_resent_and_counted(esp: str) -> None:
    delivery = send(esp, "soft")
    assert delivery.bounce_category == SOFT_CATEGORY[esp]
    assert delivery.hard_bounce is False
    # Setting 256 (e-mail resends, default 2): the delivery goes back in the queue for a resend.
    assert delivery.status == "queued"
    assert delivery.resend_count == 1
    assert delivery.next_attempt_at is not None
    # Not a bounce yet: only a message that ended failed counts (README › Delivery rules).
    assert not SoftBounce.objects.filter(address="pat.soft@example.org").exists()
    assert dns("pat.soft@example.org") is None


@pytest.mark.parametrize("esp", ESPS)
def test_soft_bounce_with_no_resends_left_ends_failed_soft(esp: str) -> None:
    from messaging.services_settings import setting_update

    setting_update(number=256, value="0", user=None)
    delivery = send(esp, "soft")
    assert delivery.status == "failed"
    assert (delivery.bounce_category, delivery.hard_bounce) == (SOFT_CATEGORY[esp], False)
    assert SoftBounce.objects.filter(address="pat.soft@example.org", delivery=delivery).count() == 1
    assert dns("pat.soft@example.org") is None


@pytest.mark.parametrize("esp", ESPS)
def test_deferral_keeps_the_delivery_out_and_shows_the_soft_reason(esp: str) -> None:
    delivery = send(esp, "deferral")
    assert delivery.status == "sent"  # the ESP keeps retrying; a later event decides
    assert delivery.status_reason.startswith(f"Delayed: {DEFERRAL_CATEGORY[esp]}")
    assert delivery.hard_bounce is None
    assert not SoftBounce.objects.exists()
    assert dns("pat.delay@example.org") is None
    assert ProviderEvent.objects.filter(delivery=delivery, event_type="deferred").count() == 1


@pytest.mark.parametrize("esp", ESPS)
def test_complaint_puts_the_address_on_the_list(esp: str) -> None:
    delivery = send(esp, "complaint")
    assert delivery.status == "delivered"  # a complaint proves the message arrived
    entry = dns("pat.complaint@example.org")
    assert entry is not None
    assert (entry.reason, entry.category) == (DnsReason.COMPLAINT, "DNS")
    assert entry.source_delivery_id == delivery.pk


@pytest.mark.parametrize("esp", ESPS)
def test_unsubscribe_puts_the_address_on_the_list(esp: str) -> None:
    delivery = send(esp, "unsubscribe")
    assert delivery.status == "delivered"
    entry = dns("pat.unsub@example.org")
    assert entry is not None
    assert (entry.reason, entry.category) == (DnsReason.UNSUBSCRIBE, "DNS")
    assert entry.source_delivery_id == delivery.pk


# --- idempotency, authentication, unknown messages -----------------------------------------------


@pytest.mark.parametrize("esp", ESPS)
def test_the_same_event_twice_is_applied_once(esp: str) -> None:
    delivery = delivery_for(esp, "soft", link="metadata")
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        for _ in range(2):
            assert post(esp, load(esp, "soft", str(delivery.pk))).status_code == 200
    delivery.refresh_from_db()
    assert delivery.resend_count == 1
    assert not SoftBounce.objects.exists()  # resent, not ended: no bounce counted
    assert ProviderEvent.objects.filter(provider=f"anymail:{esp}").count() == 1


@pytest.mark.parametrize("esp", ESPS)
def test_wrong_or_missing_webhook_secret_changes_nothing(esp: str) -> None:
    delivery = delivery_for(esp, "hard", link="metadata")
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        wrong = post(esp, load(esp, "hard", str(delivery.pk)), auth=_auth("pimsy-test:wrong"))
        missing = post(esp, load(esp, "hard", str(delivery.pk)), auth={})
    assert wrong.status_code == 403
    assert missing.status_code == 401
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert not ProviderEvent.objects.exists()
    assert not DoNotSendEntry.objects.exists()


def test_mailgun_needs_its_signature_too() -> None:
    delivery = delivery_for("mailgun", "hard", link="metadata")
    payload = load("mailgun", "hard", str(delivery.pk))
    with override_settings(ANYMAIL={**ANYMAIL_TEST, "MAILGUN_WEBHOOK_SIGNING_KEY": "another-key"}):
        response = post("mailgun", payload)
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_an_event_for_an_unknown_message_is_kept_and_still_blocks_a_hard_bounce() -> None:
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        response = post("postmark", load("postmark", "hard", ""))
    assert response.status_code == 200
    event = ProviderEvent.objects.get()
    assert event.delivery is None and event.status == "unmatched"
    assert event.payload["Type"] == "HardBounce"
    entry = dns("pat.hard@example.org")
    assert entry is not None and entry.source_delivery is None


def test_unknown_soft_bounce_does_not_block() -> None:
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        assert post("brevo", load("brevo", "soft", "")).status_code == 200
    assert ProviderEvent.objects.filter(status="unmatched").count() == 1
    assert not DoNotSendEntry.objects.exists()


def test_delivered_after_a_deferral_and_a_late_event_of_an_earlier_attempt() -> None:
    delivery = make_delivery(address="pat.delay@example.org", provider_message_id="0100018e-ses-delay-0001")
    delivered = load("amazon_ses", "deferral", "")
    delivered["MessageId"] = "8f2d61c0-0006-delivered"
    delivered["Message"] = {
        "eventType": "Delivery",
        "mail": delivered["Message"]["mail"],
        "delivery": {
            "timestamp": "2026-03-02T15:30:00.000Z",
            "recipients": ["pat.delay@example.org"],
            "processingTimeMillis": 1800000,
            "reportingMTA": "a8-30.smtp-out.amazonses.com",
            "smtpResponse": "250 2.0.0 OK 1772465400 queued",
        },
    }
    with override_settings(ANYMAIL=ANYMAIL_TEST):
        assert post("amazon_ses", load("amazon_ses", "deferral", "")).status_code == 200
        assert post("amazon_ses", delivered).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.bounce_category == ""
