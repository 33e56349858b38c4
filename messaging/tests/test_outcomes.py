"""delivery_apply_status: forward-only, idempotent, compare-and-set, and the redial / resend policy."""

from __future__ import annotations

import datetime as dt

import pytest

from bounces.models import DoNotSendEntry, SoftBounce
from messaging.channels.fax.errors import classify_fax
from messaging.channels.twilio.errors import classify_sms_error
from messaging.channels.voice.errors import classify_call
from messaging.models import Attempt, Delivery, ProviderEvent, Status
from messaging.outcomes import RetryPolicy, delivery_apply_status, next_retry, retry_policy
from messaging.services_settings import setting_update
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, daytime, make_delivery, refreshed

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime"]

pytestmark = pytest.mark.django_db


def out_with_provider(channel: str = "sms", *, sid: str = "SM1", **fields) -> Delivery:
    """A delivery the provider has accepted (attempt 1 recorded), as after a successful send."""
    delivery = make_delivery(channel=channel, status=Status.SENT, provider_message_id=sid, attempt_count=1, **fields)
    Attempt.objects.create(delivery=delivery, number=1, provider_message_id=sid, outcome="accepted")
    return delivery


def apply(delivery: Delivery, status: str, event_id: str, **kw) -> bool:
    kw.setdefault("provider", "twilio")
    return delivery_apply_status(delivery_id=delivery.pk, status=status, event_id=event_id, **kw)


def test_forward_only_late_sent_never_overwrites_delivered(daytime):
    delivery = out_with_provider()
    assert apply(delivery, "delivered", "SM1:delivered", provider_message_id="SM1")
    assert not apply(delivery, "sent", "SM1:sent", provider_message_id="SM1")
    delivery = refreshed(delivery)
    assert delivery.status == Status.DELIVERED and delivery.delivered_at == daytime.now()
    events = ProviderEvent.objects.filter(delivery=delivery).order_by("id")
    assert [(e.event_id, e.applied) for e in events] == [("SM1:delivered", True), ("SM1:sent", False)]


def test_duplicate_event_returns_false_and_changes_nothing(daytime):
    delivery = out_with_provider()
    assert apply(delivery, "delivered", "SM1:delivered", payload={"n": 1})
    daytime.advance(minutes=1)
    assert not apply(delivery, "delivered", "SM1:delivered", payload={"n": 2})
    assert ProviderEvent.objects.filter(event_id="SM1:delivered").count() == 1
    assert ProviderEvent.objects.get(event_id="SM1:delivered").payload == {"n": 1}
    assert refreshed(delivery).delivered_at == daytime.now() - dt.timedelta(minutes=1)


def test_same_event_id_from_another_provider_is_a_different_event(daytime):
    delivery = out_with_provider()
    assert apply(delivery, "sent", "X:1", provider="fax") is False  # already sent: recorded only
    assert apply(delivery, "delivered", "X:1", provider="twilio")
    assert ProviderEvent.objects.filter(event_id="X:1").count() == 2


def test_unknown_delivery_returns_false():
    assert not delivery_apply_status(delivery_id=987654, status="delivered", provider="twilio", event_id="e")
    assert not ProviderEvent.objects.exists()


def test_unknown_status_is_rejected(daytime):
    with pytest.raises(ValueError):
        apply(out_with_provider(), "exploded", "e1")


def test_callback_before_the_senders_write_back_applies_and_records_the_provider_id(daytime):
    delivery = make_delivery(status=Status.SENDING, claimed_by="w1", attempt_count=1)
    Attempt.objects.create(delivery=delivery, number=1)
    assert apply(delivery, "delivered", "SMx:delivered", provider_message_id="SMx")
    delivery = refreshed(delivery)
    assert delivery.status == Status.DELIVERED and delivery.provider_message_id == "SMx"


def test_events_of_an_earlier_attempt_are_kept_but_not_applied(daytime):
    delivery = make_delivery(channel="email", status=Status.SENT, provider_message_id="new@x", attempt_count=2)
    Attempt.objects.create(delivery=delivery, number=1, provider_message_id="old@x", outcome="failed")
    Attempt.objects.create(delivery=delivery, number=2, provider_message_id="new@x", outcome="accepted")
    assert not apply(delivery, "delivered", "old:delivered", provider="anymail:test", provider_message_id="<old@x>")
    assert refreshed(delivery).status == Status.SENT
    assert apply(delivery, "delivered", "new:delivered", provider="anymail:test", provider_message_id="new@x")


def test_queued_or_final_deliveries_ignore_provider_events(daytime):
    queued = make_delivery()
    assert not apply(queued, "delivered", "q:1")
    assert refreshed(queued).status == Status.QUEUED
    cancelled = make_delivery(status=Status.CANCELLED)
    assert not apply(cancelled, "failed", "c:1", classification=classify_sms_error(30003))
    assert refreshed(cancelled).status == Status.CANCELLED


def test_hard_failure_is_final_and_goes_on_the_do_not_send_list(daytime):
    delivery = out_with_provider()
    assert apply(delivery, "failed", "SM1:failed", classification=classify_sms_error(30006), provider_message_id="SM1")
    delivery = refreshed(delivery)
    assert delivery.status == Status.FAILED and delivery.hard_bounce is True
    assert delivery.bounce_category == "Bad-Mailbox" and delivery.finished_at == daytime.now()
    assert delivery.error_code == "30006"
    assert Attempt.objects.get(delivery=delivery).outcome == "failed"
    entry = DoNotSendEntry.objects.get(channel="sms", address=delivery.address)
    assert entry.active and entry.source_delivery_id == delivery.pk


def test_soft_sms_failure_is_final_without_resend(daytime):
    delivery = out_with_provider()
    assert apply(delivery, "failed", "SM1:undelivered", classification=classify_sms_error(30003))
    delivery = refreshed(delivery)
    assert delivery.status == Status.FAILED and delivery.hard_bounce is False
    assert delivery.resend_count == 0 and delivery.next_attempt_at is None
    assert SoftBounce.objects.filter(channel="sms", address=delivery.address).count() == 1
    assert not DoNotSendEntry.objects.exists()


def test_soft_email_failure_is_resent_per_settings_256_and_258(daytime):
    setting_update(number=256, value="2", user=None)
    setting_update(number=258, value="45", user=None)
    delivery = out_with_provider("email", sid="m1@x")
    soft = classify_call("busy")  # any soft classification will do for the policy
    assert apply(delivery, "failed", "m1:soft", provider="anymail:test", classification=soft)
    delivery = refreshed(delivery)
    assert delivery.status == Status.QUEUED and delivery.resend_count == 1
    assert delivery.next_attempt_at == daytime.now() + dt.timedelta(minutes=45)
    assert delivery.provider_message_id == "" and delivery.claimed_by == ""
    assert delivery.bounce_category == "No-Answer-From-Host" and delivery.hard_bounce is False
    assert "resend 1 of 2" in delivery.status_reason


def fail_attempts(
    delivery: Delivery, classification, *, redial: bool, limit: int = 20, until_final: bool = True
) -> list[tuple]:
    """Let every attempt fail until the delivery is final: (status, redial_count, resend_count, wait)
    after each, starting each attempt as the dispatcher does (its kind from ``retry_kind``)."""
    seen = []
    for n in range(1, limit + 1):
        kind = delivery.retry_kind or "first"
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Status.SENT, provider_message_id=f"CA{n}", attempt_count=n, retry_kind=""
        )
        Attempt.objects.create(delivery=delivery, number=n, kind=kind, provider_message_id=f"CA{n}")
        assert apply(delivery, "failed", f"CA{n}:x", classification=classification, redial=redial)
        delivery = refreshed(delivery)
        wait = delivery.next_attempt_at - delivery.updated_at if delivery.next_attempt_at else None
        seen.append((delivery.status, delivery.redial_count, delivery.resend_count, wait))
        if delivery.is_final:
            return seen
    if until_final:
        raise AssertionError("never finished")
    return seen


def test_each_voice_send_is_dialled_1_plus_266_times_and_sent_1_plus_257_times(daytime, settings):
    settings.DISPATCH_REDIAL_SECONDS = 90
    setting_update(number=266, value="2", user=None)
    setting_update(number=257, value="1", user=None)
    setting_update(number=268, value="30", user=None)
    delivery = make_delivery(channel="voice")
    redial, resend = dt.timedelta(seconds=90), dt.timedelta(minutes=30)
    seen = fail_attempts(delivery, classify_call("busy"), redial=True)
    assert seen == [
        (Status.QUEUED, 1, 0, redial),
        (Status.QUEUED, 2, 0, redial),
        (Status.QUEUED, 2, 1, resend),  # the first send's redials are used up: the second send
        (Status.QUEUED, 3, 1, redial),  # which has redials of its own
        (Status.QUEUED, 4, 1, redial),
        (Status.FAILED, 4, 1, None),
    ]  # (1 + 257) × (1 + 266) = 6 calls
    delivery = refreshed(delivery)
    assert "retries used" in delivery.status_reason
    assert list(Attempt.objects.filter(delivery=delivery).values_list("kind", flat=True)) == [
        "first",
        "redial",
        "redial",
        "resend",
        "redial",
        "redial",
    ]


def test_a_redial_in_the_second_send_says_so(daytime):
    setting_update(number=266, value="1", user=None)
    setting_update(number=257, value="1", user=None)
    delivery = make_delivery(channel="voice")
    fail_attempts(delivery, classify_call("busy"), redial=True, limit=3, until_final=False)
    assert "redial 1 of 1, send 2 of 2" in refreshed(delivery).status_reason


def test_a_soft_failure_that_is_not_a_line_failure_skips_to_the_next_send(daytime):
    setting_update(number=266, value="3", user=None)
    setting_update(number=257, value="2", user=None)
    delivery = make_delivery(channel="voice")
    seen = fail_attempts(delivery, classify_call("busy"), redial=False)
    assert [s[:3] for s in seen] == [(Status.QUEUED, 0, 1), (Status.QUEUED, 0, 2), (Status.FAILED, 0, 2)]


def test_redials_and_resends_are_not_bounces_the_message_that_ended_failed_is_one(daytime):
    setting_update(number=266, value="1", user=None)
    setting_update(number=257, value="2", user=None)
    delivery = make_delivery(channel="voice")
    seen = fail_attempts(delivery, classify_call("busy"), redial=True)
    assert len(seen) == 6
    assert list(SoftBounce.objects.values_list("delivery_id", flat=True)) == [delivery.pk]
    assert not DoNotSendEntry.objects.exists()


def test_a_failed_call_is_redialled_but_ends_hard_when_redials_are_used_up(daytime):
    setting_update(number=266, value="1", user=None)
    delivery = out_with_provider("voice", sid="CA1")
    hard = classify_call("failed")
    assert hard.hard
    assert apply(delivery, "failed", "CA1:failed", classification=hard, redial=True)
    assert refreshed(delivery).status == Status.QUEUED
    assert not DoNotSendEntry.objects.exists()  # not ended yet: the redial must not find it blocked
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.SENT, provider_message_id="CA2", attempt_count=2)
    Attempt.objects.create(delivery=delivery, number=2, kind="redial", provider_message_id="CA2")
    assert apply(delivery, "failed", "CA2:failed", classification=hard, redial=True, provider_message_id="CA2")
    delivery = refreshed(delivery)
    assert delivery.status == Status.FAILED and delivery.hard_bounce is True
    assert DoNotSendEntry.objects.filter(channel="voice", address=delivery.address).exists()


def test_fax_policy_reads_settings_251_259_260_262():
    setting_update(number=251, value="3", user=None)
    setting_update(number=259, value="no", user=None)
    setting_update(number=260, value="4", user=None)
    setting_update(number=262, value="15", user=None)
    policy = retry_policy("fax")
    assert (policy.redials, policy.resends, policy.restart_unfinished) == (4, 3, False)
    assert policy.resend_interval == dt.timedelta(minutes=15)
    assert retry_policy("sms") == RetryPolicy()


def test_fax_line_busy_redials(daytime):
    delivery = out_with_provider("fax", sid="F1")
    busy = classify_fax("CALL_ERROR", 17)
    assert apply(delivery, "failed", "F1:fail", provider="fax", classification=busy, redial=True)
    delivery = refreshed(delivery)
    assert delivery.status == Status.QUEUED and delivery.redial_count == 1 and delivery.retry_kind == "redial"


def test_next_retry_without_redial_flag_goes_straight_to_resends():
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    policy = RetryPolicy(redials=3, resends=1, resend_interval=dt.timedelta(hours=1))
    retry = next_retry(policy, redials_this_send=0, resend_count=0, redial=False, hard=False, now=now)
    assert retry is not None and retry.kind == "resend" and retry.at == now + dt.timedelta(hours=1)
    assert next_retry(policy, redials_this_send=0, resend_count=1, redial=False, hard=False, now=now) is None
    assert next_retry(policy, redials_this_send=0, resend_count=0, redial=False, hard=True, now=now) is None


def test_next_retry_gives_each_send_its_own_redials():
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    policy = RetryPolicy(redials=2, resends=1, redial_delay=dt.timedelta(seconds=60))
    assert next_retry(policy, redials_this_send=1, resend_count=1, redial=True, hard=False, now=now).kind == "redial"
    assert next_retry(policy, redials_this_send=2, resend_count=0, redial=True, hard=False, now=now).kind == "resend"
    assert next_retry(policy, redials_this_send=2, resend_count=1, redial=True, hard=False, now=now) is None
    assert policy.most_attempts == 6


def test_late_hard_bounce_after_delivered_blocks_the_address_without_changing_status(daytime):
    from bounces.smtp import classify_smtp

    delivery = out_with_provider("email", sid="m@x")
    apply(delivery, "delivered", "m:delivered", provider="anymail:test")
    hard = classify_smtp("550 5.1.1 <a@b.org>: Recipient address rejected: User unknown")
    assert not apply(delivery, "failed", "m:bounced", provider="anymail:test", classification=hard)
    assert refreshed(delivery).status == Status.DELIVERED
    assert DoNotSendEntry.objects.filter(channel="email", address=delivery.address.lower()).exists()


def test_a_delayed_email_shows_why_while_staying_sent(daytime):
    from bounces.smtp import classify_smtp

    delivery = out_with_provider("email", sid="m@x")
    soft = classify_smtp("451 4.4.1 No answer from host")
    assert apply(delivery, "sent", "m:deferred", provider="anymail:test", classification=soft)
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENT and delivery.status_reason.startswith("Delayed:")


def test_delivered_clears_earlier_soft_bounce_counts(daytime):
    delivery = out_with_provider()
    SoftBounce.objects.create(channel="sms", address=delivery.address, category="Other", occurred_at=daytime.now())
    apply(delivery, "delivered", "SM1:delivered")
    assert SoftBounce.objects.get().cleared_at == daytime.now()
