"""Text messages: the Twilio transport against the simulator, and the status webhook."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bounces.models import DoNotSendEntry
from clients.tests.factories import make_client
from messaging import dispatch
from messaging.models import Delivery, ProviderEvent, Status
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    live_callbacks,
    make_delivery,
    refreshed,
    twilio_post,
    twilio_sim,
)
from messaging.tests.webhook_contract import WebhookContract

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "live_callbacks", "twilio_sim"]


def sms_path(token: str) -> str:
    return f"/webhooks/twilio/sms/{token}/status"


def status_params(delivery: Delivery, status: str, *, sid: str | None = None, error: str | None = None) -> dict:
    params = {
        "AccountSid": "AC00000000000000000000000000000000",
        "ApiVersion": "2010-04-01",
        "From": "+15555550100",
        "MessageSid": sid or delivery.provider_message_id,
        "MessageStatus": status,
        "SmsSid": sid or delivery.provider_message_id,
        "SmsStatus": status,
        "To": delivery.address,
        "SomeFieldTwilioAddedLater": "ignored",
    }
    if error:
        params["ErrorCode"] = error
    return params


@pytest.mark.django_db
class TestSmsStatusWebhook(WebhookContract):
    channel = "sms"

    def path(self, token: str) -> str:
        return sms_path(token)

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        return status_params(delivery, "delivered")

    def post(self, http: Any, path: str, payload: dict[str, Any], *, auth: str = "valid") -> Any:
        signature = {"valid": None, "forged": "bm90IGEgc2lnbmF0dXJl", "none": ""}[auth]
        return twilio_post(http, path, payload, signature=signature)

    def assert_applied(self, delivery: Delivery, response: Any) -> None:
        assert delivery.status == Status.DELIVERED
        event = ProviderEvent.objects.get(delivery=delivery)
        assert event.event_id == f"{self.provider_id}:delivered" and event.payload["SomeFieldTwilioAddedLater"]


@pytest.mark.django_db
def test_signature_covers_the_query_string_and_a_changed_field(client, daytime):
    delivery = make_delivery(status=Status.SENT, provider_message_id="SM1", attempt_count=1)
    good = status_params(delivery, "delivered")
    from django.conf import settings
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(
        settings.PUBLIC_BASE_URL + sms_path(delivery.token), good
    )
    tampered = {**good, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert client.post(sms_path(delivery.token), tampered, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    assert client.post(sms_path(delivery.token) + "?x=1", good, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    assert client.post(sms_path(delivery.token), good, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 200
    assert refreshed(delivery).status == Status.DELIVERED


@pytest.mark.django_db
def test_signature_uses_the_public_url_behind_a_proxy(client, daytime, settings):
    settings.PUBLIC_BASE_URL = "https://messaging.example.org"
    delivery = make_delivery(status=Status.SENT, provider_message_id="SM1", attempt_count=1)
    response = twilio_post(client, sms_path(delivery.token), status_params(delivery, "sent"))
    assert response.status_code == 200  # Django saw http://testserver, Twilio signed the public https URL


@pytest.mark.django_db
def test_failure_statuses_are_classified(client, daytime):
    soft = make_delivery(status=Status.SENT, provider_message_id="SMa", attempt_count=1)
    hard = make_delivery(status=Status.SENT, provider_message_id="SMb", attempt_count=1)
    twilio_post(client, sms_path(soft.token), status_params(soft, "undelivered", error="30003"))
    twilio_post(client, sms_path(hard.token), status_params(hard, "failed", error="30006"))
    soft, hard = refreshed(soft), refreshed(hard)
    assert (soft.status, soft.hard_bounce, soft.bounce_category) == (Status.FAILED, False, "No-Answer-From-Host")
    assert (hard.status, hard.hard_bounce, hard.bounce_category) == (Status.FAILED, True, "Bad-Mailbox")
    assert DoNotSendEntry.objects.filter(channel="sms", address=hard.address).exists()
    assert not DoNotSendEntry.objects.filter(channel="sms", address=soft.address).exists()


@pytest.mark.django_db
def test_callbacks_in_any_order_end_in_the_same_state(client, daytime):
    events = ["sent", "delivered", "sent", "queued"]
    finals = set()
    for _ in range(5):
        delivery = make_delivery(status=Status.SENDING, claimed_by="w", attempt_count=1)
        order = events[:]
        random.shuffle(order)
        for status in order:
            twilio_post(client, sms_path(delivery.token), status_params(delivery, status, sid="SMq" + str(delivery.pk)))
        finals.add(refreshed(delivery).status)
    assert finals == {Status.DELIVERED}


@pytest.mark.django_db
def test_messaging_service_is_used_when_configured(daytime, twilio_sim, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    delivery = make_delivery()
    for claim in dispatch.claim_due(now=daytime.now()):
        dispatch.send_claimed(claim.ids, claim.token)
    [record] = twilio_sim.received()
    assert record["params"]["MessagingServiceSid"] == settings.TWILIO_MESSAGING_SERVICE_SID
    assert "From" not in record["params"] and refreshed(delivery).status == Status.SENT


@pytest.mark.django_db(transaction=True)
def test_end_to_end_outcomes_through_real_callbacks(daytime, twilio_sim, live_callbacks):
    numbers = {"ok": "+16175551234", "unreachable": "+16175550001", "landline": "+16175550002"}
    rows = {name: make_delivery(client=make_client(cell_phone=number)) for name, number in numbers.items()}
    for claim in dispatch.claim_due(now=daytime.now()):
        dispatch.send_claimed(claim.ids, claim.token)
    twilio_sim.wait_for(lambda recs: all(r.get("done") for r in recs) and len(recs) == 3, timeout=10)
    got = {name: refreshed(d) for name, d in rows.items()}
    assert got["ok"].status == Status.DELIVERED
    assert (got["unreachable"].status, got["unreachable"].hard_bounce) == (Status.FAILED, False)
    assert (got["landline"].status, got["landline"].bounce_category) == (Status.FAILED, "Bad-Mailbox")
    for record in twilio_sim.received():
        assert all(cb["http_status"] == 200 for cb in record["callbacks"])
