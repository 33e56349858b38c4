"""Fax: the template as a PDF through the fax API simulator, and the authenticated status callback."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clients.tests.factories import make_client
from messaging import dispatch
from messaging.channels.fax.transport import callback_url, render_pdf
from messaging.models import Delivery, ProviderEvent, Status
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    fax_sim,
    live_callbacks,
    make_delivery,
    refreshed,
)
from messaging.tests.webhook_contract import WebhookContract

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "fax_sim", "live_callbacks"]


def fax_path(token: str) -> str:
    return f"/webhooks/fax/{token}/"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def fax_event(delivery: Delivery, status: str = "COMPLETED", **fax: Any) -> dict[str, Any]:
    return {
        "event": "FAX_COMPLETED",
        "eventTime": "2025-06-03T14:00:05Z",
        "fax": {"id": delivery.provider_message_id, "direction": "OUTBOUND", "status": status, **fax},
    }


def test_pdf_rendering_handles_long_and_non_latin_text():
    pdf = render_pdf("Line\n" * 200 + "Café – “quotes” 你好", title="Clinic")
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert len(pdf) > 1000


def test_callback_url_carries_the_credentials(settings):
    settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD = "fax", "p@ss:word"
    settings.PUBLIC_BASE_URL = "https://clinic.example"
    assert callback_url("tok") == "https://fax:p%40ss%3Aword@clinic.example/webhooks/fax/tok/"


@pytest.mark.django_db
class TestFaxWebhook(WebhookContract):
    channel = "fax"
    provider_id = "01HZZZFAX0000000000000000A"
    unauthenticated_status = 401

    def path(self, token: str) -> str:
        return fax_path(token)

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        return fax_event(delivery)

    def post(self, http: Any, path: str, payload: dict[str, Any], *, auth: str = "valid") -> Any:
        from django.conf import settings

        headers = {
            "valid": {"HTTP_AUTHORIZATION": basic(settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD)},
            "forged": {"HTTP_AUTHORIZATION": basic(settings.FAX_CALLBACK_USER, "guess")},
            "none": {},
        }[auth]
        return http.post(path, json.dumps(payload), content_type="application/json", **headers)

    def assert_applied(self, delivery: Delivery, response: Any) -> None:
        assert delivery.status == Status.DELIVERED
        assert ProviderEvent.objects.get(delivery=delivery).provider == "fax"


@pytest.mark.django_db
def test_bad_json_is_400_without_change(client, daytime, settings):
    delivery = TestFaxWebhook().target()
    auth = basic(settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD)
    response = client.post(
        fax_path(delivery.token), "{not json", content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 400 and refreshed(delivery).status == Status.SENT


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"fax": ' * 50_000 + "{}" + "}" * 50_000,
        b"\xff{",
        '{"event": NaN, "fax": {"id": "F1", "status": "COMPLETED"}}',
        '{"event": "x\\u0000", "fax": {"id": "F1", "status": "COMPLETED"}}',
    ],
    ids=["deep-list", "deep-object", "not-utf8", "nan", "nul"],
)
def test_unreadable_or_unstorable_json_is_400_without_change(client, daytime, settings, body):
    """Issue 13 row 6: 100k-deep JSON was a RecursionError (500); NaN and NUL a DataError on PostgreSQL."""
    delivery = TestFaxWebhook().target()
    auth = basic(settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD)
    response = client.post(fax_path(delivery.token), body, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 400 and refreshed(delivery).status == Status.SENT
    assert not ProviderEvent.objects.exists()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
FAX_KEYS = st.sampled_from(["id", "status", "errorType", "errorCode", "errorMessage", "direction"])
FAX_STATUS = st.sampled_from(["QUEUED", "IN_PROGRESS", "COMPLETED", "FAILURE", "failure", ""])
FAX_OBJECT = st.dictionaries(FAX_KEYS, JSON | FAX_STATUS, max_size=6)
FAX_EVENT = st.fixed_dictionaries({"fax": FAX_OBJECT}, optional={"event": JSON, "eventTime": JSON})


@pytest.mark.django_db
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON | FAX_EVENT)
def test_any_authenticated_json_body_is_answered_without_a_5xx(client, daytime, settings, payload):
    delivery = TestFaxWebhook().target()
    auth = basic(settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD)
    before = ProviderEvent.objects.count()
    response = client.post(
        fax_path(delivery.token), json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert ProviderEvent.objects.count() == before and refreshed(delivery).status == Status.SENT


@pytest.mark.django_db
def test_busy_line_is_redialled_and_a_dead_number_is_hard(client, daytime, settings):
    contract = TestFaxWebhook()
    busy, dead = (
        contract.target(),
        make_delivery(channel="fax", status=Status.SENT, provider_message_id="FAXdead", attempt_count=1),
    )
    contract.post(client, fax_path(busy.token), fax_event(busy, "FAILURE", errorType="CALL_ERROR", errorCode=17))
    contract.post(client, fax_path(dead.token), fax_event(dead, "FAILURE", errorType="CALL_ERROR", errorCode=34))
    busy, dead = refreshed(busy), refreshed(dead)
    assert (busy.status, busy.redial_count, busy.retry_kind) == (Status.QUEUED, 1, "redial")
    assert (dead.status, dead.hard_bounce, dead.bounce_category) == (Status.FAILED, True, "Bad-Mailbox")


@pytest.mark.django_db(transaction=True)
def test_end_to_end_fax_through_the_api_and_its_callback(daytime, fax_sim, live_callbacks, settings):
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "fax": 100.0}
    good = make_delivery(channel="fax")
    busy = make_delivery(channel="fax", client=make_client(fax="+16175550021"))
    for claim in dispatch.claim_due(now=daytime.now(), channels=["fax"]):
        dispatch.send_claimed(claim.ids, claim.token)
    fax_sim.wait_for(lambda recs: len(recs) == 2 and all(r.get("done") for r in recs), timeout=10)
    by_to = {r["to"]: r for r in fax_sim.received()}
    assert by_to[good.address]["pages"] >= 1 and by_to[good.address]["filename"] == f"message-{good.pk}.pdf"
    assert all(cb["http_status"] == 200 for r in by_to.values() for cb in r["callbacks"])
    good, busy = refreshed(good), refreshed(busy)
    assert good.status == Status.DELIVERED and good.provider_message_id == by_to[good.address]["id"]
    assert (busy.status, busy.redial_count, busy.bounce_category) == (Status.QUEUED, 1, "No-Answer-From-Host")
