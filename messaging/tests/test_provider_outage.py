"""A provider outage (issue 17, scenario 3), through the real dispatcher and the Twilio simulator.

Failures in a row pause the channel: the rest of the batch waits unsent, the sweeper sends only a
probe now and then, and staff see a banner; the first accepted probe ends it. A create that timed
out is never sent a second time: Twilio is asked first, and a message it already has is adopted.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from messaging import dispatch
from messaging.dispatch import outages
from messaging.models import Attempt, Delivery, MessageContent, ProviderOutage, Status
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    make_delivery,
    refreshed,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "twilio_sim"]

pytestmark = pytest.mark.django_db


def send_due(now: dt.datetime) -> int:
    return sum(dispatch.send_claimed(c.ids, c.token) for c in dispatch.claim_due(now=now, channels=["sms"]))


def creates(sim) -> list[dict]:
    return [r for r in sim.received() if r.get("kind") == "sms" and r.get("accepted")]


@pytest.fixture
def outage_settings(settings):
    settings.PROVIDER_OUTAGE_FAILURES = 3
    settings.PROVIDER_PROBE_SECONDS = 10
    settings.PROVIDER_PROBE_MAX_SECONDS = 40
    settings.DISPATCH_BATCH_SIZE = 20
    return settings


def test_failures_in_a_row_pause_the_channel_and_the_rest_of_the_batch_waits_unsent(
    daytime, twilio_sim, outage_settings
):
    twilio_sim.sim.outage.start(fail_seconds=300)
    rows = [make_delivery() for _ in range(8)]
    assert send_due(daytime.now()) == 0
    assert twilio_sim.sim.outage.refused == 3  # three tries, then the provider is left alone
    rows = [refreshed(d) for d in rows]
    tried = [d for d in rows if d.attempt_count == 1]
    waiting = [d for d in rows if d.attempt_count == 0]
    assert len(tried) == 3 and len(waiting) == 5
    assert all(d.status == Status.QUEUED for d in rows)
    assert not Attempt.objects.filter(delivery__in=waiting).exists()  # no attempt was made for them
    assert all(d.status_reason.startswith("Waiting: the provider is not answering") for d in waiting)
    outage = ProviderOutage.objects.get()
    assert outage.paused_at is not None and outage.failures == 3 and outage.ended_at is None
    [banner] = outages.banners()
    assert banner.text.startswith("Text messages are delayed: the provider is not answering since ")

    # Paused: the sweeper claims nothing until a probe is due, then exactly one message.
    daytime.advance(seconds=5)
    assert dispatch.claim_due(now=daytime.now(), channels=["sms"]) == []
    daytime.advance(seconds=60)
    [probe] = dispatch.claim_due(now=daytime.now(), channels=["sms"])
    assert len(probe.ids) == 1
    assert dispatch.claim_due(now=daytime.now(), channels=["sms"]) == []  # one probe per interval
    dispatch.send_claimed(probe.ids, probe.token)
    outage.refresh_from_db()
    assert outage.probes == 1 and outage.next_probe_at == daytime.now() + dt.timedelta(seconds=20)  # doubled


def test_an_accepted_probe_ends_the_outage_and_the_backlog_goes_out_once(daytime, twilio_sim, outage_settings):
    twilio_sim.sim.outage.start(fail_seconds=300)
    rows = [make_delivery() for _ in range(6)]
    send_due(daytime.now())
    assert outages.paused("sms", now=daytime.now())
    twilio_sim.sim.outage.stop()
    daytime.advance(seconds=120)  # past the probe time and every back-off
    send_due(daytime.now())  # the probe
    assert not outages.paused("sms", now=daytime.now()) and outages.banners() == []
    assert ProviderOutage.objects.get().ended_at == daytime.now()
    send_due(daytime.now())  # the backlog, at the usual rate
    assert {refreshed(d).status for d in rows} <= {Status.SENT, Status.DELIVERED}
    assert len(creates(twilio_sim)) == 6  # each message once


def test_a_few_failures_then_a_success_are_not_an_outage(daytime, twilio_sim, outage_settings):
    outages.note_failure("sms", "Twilio answered HTTP 503", now=daytime.now())
    outages.note_failure("sms", "Twilio answered HTTP 503", now=daytime.now())
    outages.note_success("sms", now=daytime.now())
    assert not ProviderOutage.objects.exists()
    make_delivery()
    assert send_due(daytime.now()) == 1


def test_failures_far_apart_are_not_a_run(daytime, outage_settings):
    for _ in range(5):  # one failure every two minutes, for ten minutes
        outages.note_failure("sms", "Twilio answered HTTP 503", now=daytime.now())
        daytime.advance(seconds=120)
    row = ProviderOutage.objects.get()
    assert row.failures == 1 and row.paused_at is None and not outages.paused("sms", now=daytime.now())
    for _ in range(3):  # then three within seconds: a run, and the channel pauses
        outages.note_failure("sms", "Twilio answered HTTP 503", now=daytime.now())
        daytime.advance(seconds=2)
    assert outages.paused("sms", now=daytime.now())


def with_text(delivery: Delivery, text: str) -> Delivery:
    content = MessageContent.objects.create(
        digest=f"d{delivery.pk}", channel="sms", text=text, parts={"sms_body": text}
    )
    Delivery.objects.filter(pk=delivery.pk).update(content=content)
    return refreshed(delivery)


def test_a_create_that_timed_out_is_adopted_not_sent_again(daytime, twilio_sim, outage_settings):
    outage_settings.TWILIO_TIMEOUT_SECONDS = 0.5
    outage_settings.DISPATCH_RESTART_GRACE_SECONDS = 30
    twilio_sim.sim.outage.start(fail_seconds=0, hang_seconds=300, hang_for=1.5)  # accepted, answer too late
    delivery = make_delivery()
    assert send_due(daytime.now()) == 0
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENDING and delivery.provider_message_id == ""
    assert Attempt.objects.get(delivery=delivery).outcome == "unknown"
    assert dispatch.restart_unfinished(now=daytime.now()) == 0  # the grace period first
    twilio_sim.sim.outage.stop()
    daytime.advance(seconds=31)
    assert dispatch.restart_unfinished(now=daytime.now()) == 1
    delivery = refreshed(delivery)
    [record] = creates(twilio_sim)
    assert delivery.status == Status.SENT and delivery.provider_message_id == record["sid"]
    assert "not sent again" in delivery.status_reason
    assert Attempt.objects.get(delivery=delivery).outcome == "adopted"
    send_due(daytime.now())
    assert len(creates(twilio_sim)) == 1


def test_the_provider_is_matched_on_number_and_text_and_an_unknown_message(daytime, twilio_sim, settings):
    from messaging.channels.sms.lookup import find_accepted
    from messaging.channels.sms.transport import twilio_client

    delivery = with_text(make_delivery(), "Your visit is Tuesday at 9:00")
    other = {"to": delivery.address, "from_": "+15555550100", "status_callback": "http://127.0.0.1:9/x"}
    twilio_client().messages.create(body="Office closed Friday", **other)
    assert find_accepted(delivery, daytime.now()) == ""  # another text to the same number
    sid = twilio_client().messages.create(body="Your visit is Tuesday at 9:00", **other).sid
    assert find_accepted(delivery, daytime.now()) == sid
    Delivery.objects.filter(pk=make_delivery().pk).update(provider_message_id=sid)
    assert find_accepted(delivery, daytime.now()) == ""  # already another delivery's


def test_an_unanswered_attempt_waits_while_the_provider_cannot_be_asked(daytime, settings):
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"  # nothing listens
    settings.DISPATCH_RESTART_GRACE_SECONDS = 0
    from messaging.channels.twilio.client import clear_twilio_client_cache

    clear_twilio_client_cache()
    delivery = make_delivery(status=Status.SENDING, claimed_by="dead", attempt_count=1)
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=daytime.now() - dt.timedelta(seconds=1))
    Attempt.objects.create(delivery=delivery, number=1, outcome="unknown")
    assert dispatch.restart_unfinished(now=daytime.now()) == 0
    assert refreshed(delivery).status == Status.SENDING
    clear_twilio_client_cache()


def test_staff_see_the_delay_on_the_new_tab_history_and_scheduled(client, django_user_model, daytime):
    from messaging.tests.test_views import user_with

    client.force_login(user_with(django_user_model, "desk", "send_messages", "view_history"))
    ProviderOutage.objects.create(
        channel="sms", first_failure_at=daytime.now(), last_failure_at=daytime.now(), failures=5,
        paused_at=daytime.now(), next_probe_at=daytime.now(),
    )  # fmt: skip
    for name in ("messaging:new", "messaging:history", "messaging:scheduled"):
        page = client.get(reverse(name)).content.decode()
        assert "Text messages are delayed: the provider is not answering since" in page, name
    ProviderOutage.objects.update(ended_at=daytime.now())
    assert "are delayed" not in client.get(reverse("messaging:history")).content.decode()
