"""The status-callback path made cheap for issue 16 (bench/bench_callbacks.py): the same outcomes,
fewer statements. An event that cannot change the delivery is stored in one statement; a stale
snapshot handed in by the view never moves a delivery back; the look-up by token reads only what
applying a status needs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.channels.sms.tests.test_transport_sms import sms_path, status_params
from messaging.channels.webhook_support import STATUS_FIELDS, delivery_for_status_callback
from messaging.models import Attempt, Delivery, ProviderEvent, Status
from messaging.outcomes import delivery_apply_status
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, daytime, make_delivery, twilio_post
from tests.fixtures import need

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime"]

pytestmark = pytest.mark.django_db


def _sent(sid: str = "SM1") -> Delivery:
    delivery = make_delivery(status=Status.SENT, provider_message_id=sid, attempt_count=1)
    Attempt.objects.create(delivery=delivery, number=1, provider_message_id=sid)
    return delivery


def _writes(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]


def test_an_event_that_changes_nothing_is_one_insert_and_its_duplicate_too(client, daytime):
    delivery = _sent()
    for _ in range(2):  # Twilio retries: the same "queued" twice
        with CaptureQueriesContext(connection) as ctx:
            response = twilio_post(client, sms_path(delivery.token), status_params(delivery, "queued"))
        assert response.status_code == 200
        assert len(ctx.captured_queries) == 2, [q["sql"] for q in ctx.captured_queries]  # look-up, insert
        assert len(_writes(ctx)) == 1 and "INSERT" in _writes(ctx)[0].upper()
    event = ProviderEvent.objects.get(delivery=delivery)
    assert (event.event_id, event.status, event.applied) == ("SM1:queued", Status.SENDING, False)
    assert Delivery.objects.get(pk=delivery.pk).status == Status.SENT


def test_queued_sent_delivered_in_any_order_end_delivered_once(client, daytime):
    delivery = _sent()
    for status in ("delivered", "queued", "sent", "delivered", "sent"):
        assert twilio_post(client, sms_path(delivery.token), status_params(delivery, status)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED and delivery.delivered_at is not None
    events = {e.event_id: e.applied for e in ProviderEvent.objects.filter(delivery=delivery)}
    assert events == {"SM1:delivered": True, "SM1:queued": False, "SM1:sent": False}
    assert Attempt.objects.get(delivery=delivery).outcome == Status.DELIVERED


def test_an_earlier_attempts_event_is_kept_not_applied(client, daytime):
    delivery = _sent(sid="SM2")
    response = twilio_post(client, sms_path(delivery.token), status_params(delivery, "delivered", sid="SM1"))
    assert response.status_code == 200
    assert Delivery.objects.get(pk=delivery.pk).status == Status.SENT
    assert ProviderEvent.objects.get(delivery=delivery).applied is False


def test_a_stale_snapshot_never_moves_a_delivery_back(daytime):
    delivery = _sent()
    seen = delivery_for_status_callback(delivery.token, "sms")
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.DELIVERED)  # another callback won meanwhile
    seen.status = Status.SENDING  # and the view had read it earlier still
    changed = delivery_apply_status(
        delivery_id=delivery.pk,
        status=Status.SENT,
        provider="twilio",
        event_id="SM1:sent",
        provider_message_id="SM1",
        seen=seen,
    )
    assert changed is False
    assert Delivery.objects.get(pk=delivery.pk).status == Status.DELIVERED
    assert ProviderEvent.objects.get(delivery=delivery).applied is False


def test_a_failure_still_goes_through_the_full_path(client, daytime):
    delivery = _sent()
    params = status_params(delivery, "undelivered", error="30003")
    assert twilio_post(client, sms_path(delivery.token), params).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.error_code == "30003"


def test_the_status_look_up_reads_only_what_applying_needs(daytime):
    delivery = _sent()
    with CaptureQueriesContext(connection) as ctx:
        seen = delivery_for_status_callback(delivery.token, "sms")
    assert len(ctx.captured_queries) == 1 and "ORDER BY" not in ctx.captured_queries[0]["sql"]
    assert seen is not None and seen.get_deferred_fields().isdisjoint(STATUS_FIELDS)
    assert (seen.pk, seen.status, seen.provider_message_id, seen.attempt_count) == (
        delivery.pk,
        Status.SENT,
        "SM1",
        1,
    )
    assert seen.broadcast_id == delivery.broadcast_id  # any other field still loads on first use
    assert delivery_for_status_callback(delivery.token, "email") is None
    assert delivery_for_status_callback("", "sms") is None
    assert delivery_for_status_callback("x" * 65, "sms") is None


def test_an_applied_delivered_is_one_statement_on_postgresql(client, daytime):
    """Compare-and-set, attempt closed and event stored together; then the soft-bounce clean-up."""
    from bounces.models import SoftBounce

    need(connection.vendor == "postgresql", "the one-statement path is PostgreSQL's; SQLite takes the general path")
    delivery = _sent()
    SoftBounce.objects.create(channel="sms", address=delivery.address, category="Other")
    with CaptureQueriesContext(connection) as ctx:
        response = twilio_post(client, sms_path(delivery.token), status_params(delivery, "delivered"))
    assert response.status_code == 200
    assert len(ctx.captured_queries) == 3, [q["sql"] for q in ctx.captured_queries]  # look-up, apply, bounces
    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED and delivery.delivered_at is not None and delivery.hard_bounce is None
    assert Attempt.objects.get(delivery=delivery).outcome == Status.DELIVERED
    event = ProviderEvent.objects.get(delivery=delivery)
    assert (event.event_id, event.applied, event.payload["MessageStatus"]) == ("SM1:delivered", True, "delivered")
    assert SoftBounce.objects.get().cleared_at is not None
    # The duplicate changes nothing and stores nothing more.
    assert twilio_post(client, sms_path(delivery.token), status_params(delivery, "delivered")).status_code == 200
    assert ProviderEvent.objects.filter(delivery=delivery).count() == 1


def test_a_known_event_never_moves_the_delivery_in_one_statement(daytime):
    """The event is stored already (unapplied): applying it again is the general path's call."""
    delivery = _sent()
    ProviderEvent.objects.create(delivery=delivery, provider="twilio", event_id="SM1:delivered", status="delivered")
    changed = delivery_apply_status(
        delivery_id=delivery.pk, status=Status.DELIVERED, provider="twilio", event_id="SM1:delivered",
        provider_message_id="SM1",
    )  # fmt: skip
    assert changed is False and Delivery.objects.get(pk=delivery.pk).status == Status.SENT
