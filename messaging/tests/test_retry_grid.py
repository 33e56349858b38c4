"""Retries follow the numbered settings exactly: README › Delivery rules › Retries.

An address that always fails softly gets exactly ``(1 + resends) × (1 + redials)`` provider calls:
every combination of 266 × 257 (voice, an always-busy number), 260 × 251 (fax, an always-busy
line) and 256 (e-mail, an always-full mailbox) in 0..3. The real dispatcher sends through the
local simulators; the simulators' own (signed) callbacks are caught by a small receiver and handed
to our webhooks by the test client, so no live server and no transactional database are needed;
time is driven by the controlled clock, never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client as HttpClient

from bounces.models import DoNotSendEntry, SoftBounce
from clients.tests.factories import make_client
from core import clock
from messaging import dispatch
from messaging.models import Attempt, Delivery, Status
from messaging.services_settings import setting_update
from messaging.simulators.base import SimHandle
from messaging.simulators.tests.support import WebhookReceiver, start_receiver, stop_receiver
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    fax_sim,
    make_delivery,
    refreshed,
    smtp_sim,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "fax_sim", "smtp_sim", "twilio_sim"]

pytestmark = pytest.mark.django_db

VOICE_BUSY = "+16175550011"  # twilio_outcomes: CallStatus busy, every time
FAX_BUSY = "+16175550021"  # fax_sim: FAILURE CALL_ERROR 17 (busy), every time
MAILBOX_FULL = "mailbox-full@example.org"  # smtp_sim: 452 4.2.2 Mailbox full at RCPT, every time
COUNTS = range(4)
GRID = list(itertools.product(COUNTS, COUNTS))  # (redials, resends)
REDIAL_SECONDS = 45


def expected_calls(*, redials: int, resends: int) -> int:
    """README › Delivery rules › Retries: each of 1 + resends sends is dialled up to 1 + redials times."""
    return (1 + resends) * (1 + redials)


@pytest.fixture
def relay(_public_base_url: None, settings: Any) -> Iterator[WebhookReceiver]:
    """Catches the simulators' callbacks (they are signed for ``PUBLIC_BASE_URL``) for the test to hand on."""
    receiver = start_receiver()
    settings.PUBLIC_BASE_URL = receiver.base
    yield receiver
    stop_receiver(receiver)


@pytest.fixture(autouse=True)
def _fast_rates(settings: Any) -> None:
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "voice": 0, "fax": 0, "email": 0}
    settings.DISPATCH_REDIAL_SECONDS = REDIAL_SECONDS


def hand_on(receiver: WebhookReceiver, http: HttpClient, done: int) -> int:
    """POST the callbacks caught since the ``done``-th to our webhooks, as the provider sent them."""
    with receiver.lock:
        hits = list(receiver.hits[done:])
    for hit in hits:
        headers = {k: v for k, v in hit.headers.items() if k.lower() in ("x-twilio-signature", "authorization")}
        response = http.generic(
            "POST", hit.path, hit.body, content_type=hit.headers.get("Content-Type", ""), headers=headers
        )
        assert response.status_code == 200, (hit.path, response.status_code)
    return done + len(hits)


def drive(
    delivery: Delivery,
    frozen: clock.ControlledClock,
    *,
    sim: SimHandle | None = None,
    receiver: WebhookReceiver | None = None,
) -> Delivery:
    """Run the dispatcher (sweep, send, callbacks) until the delivery is final, moving the clock to
    each next attempt; returns the final delivery."""
    http, handed_on = HttpClient(), 0
    for _ in range(100):
        delivery = refreshed(delivery)
        if delivery.is_final:
            return delivery
        assert delivery.status == Status.QUEUED, delivery.status
        if delivery.next_attempt_at > frozen.now():
            frozen.set(delivery.next_attempt_at)
        for claim in dispatch.claim_due(now=frozen.now(), channels=[delivery.channel]):
            dispatch.send_claimed(claim.ids, claim.token)
        if sim is not None and receiver is not None:
            sim.wait_for(lambda records: all(r.get("done") for r in records), timeout=10, interval=0.005)
            handed_on = hand_on(receiver, http, handed_on)
    raise AssertionError("the delivery never finished")


def provider_calls(sim: SimHandle, kind: str) -> int:
    return sum(1 for r in sim.received() if r.get("kind") == kind)


def assert_timing(delivery: Delivery, *, redials: int, interval: dt.timedelta) -> None:
    """Redials follow each other after DISPATCH_REDIAL_SECONDS; a send starts ``interval`` after
    the previous send's last dial failed."""
    attempts = list(Attempt.objects.filter(delivery=delivery).order_by("number"))
    kinds = [a.kind for a in attempts]
    one_send = ["redial"] * redials
    sends = len(attempts) // (1 + redials)
    assert kinds == list(itertools.chain(["first", *one_send], *(["resend", *one_send] for _ in range(sends - 1))))
    for before, after in itertools.pairwise(attempts):
        wait = dt.timedelta(seconds=REDIAL_SECONDS) if after.kind == "redial" else interval
        assert after.started_at - before.started_at == wait, (before.kind, after.kind)


def assert_failed_soft_once(delivery: Delivery) -> None:
    """Finished failed and soft; one message is one soft failure; nothing goes on the list."""
    assert delivery.status == Status.FAILED and delivery.hard_bounce is False
    assert "DNS" not in delivery.bounce_category
    assert SoftBounce.objects.filter(delivery=delivery).count() == 1
    assert not DoNotSendEntry.objects.exists()


@pytest.mark.parametrize(("redials", "resends"), GRID)
def test_voice_calls_follow_266_and_257(redials, resends, daytime, twilio_sim, relay):
    setting_update(number=266, value=str(redials), user=None)
    setting_update(number=257, value=str(resends), user=None)
    setting_update(number=268, value="20", user=None)
    delivery = make_delivery(channel="voice", client=make_client(cell_phone=VOICE_BUSY))
    delivery = drive(delivery, daytime, sim=twilio_sim, receiver=relay)
    assert provider_calls(twilio_sim, "call") == expected_calls(redials=redials, resends=resends)
    assert_timing(delivery, redials=redials, interval=dt.timedelta(minutes=20))
    assert (delivery.redial_count, delivery.resend_count) == ((1 + resends) * redials, resends)
    assert_failed_soft_once(delivery)


@pytest.mark.parametrize(("redials", "resends"), GRID)
def test_fax_calls_follow_260_and_251(redials, resends, daytime, fax_sim, relay):
    setting_update(number=260, value=str(redials), user=None)
    setting_update(number=251, value=str(resends), user=None)
    setting_update(number=262, value="15", user=None)
    delivery = make_delivery(channel="fax", client=make_client(fax=FAX_BUSY))
    delivery = drive(delivery, daytime, sim=fax_sim, receiver=relay)
    assert provider_calls(fax_sim, "fax") == expected_calls(redials=redials, resends=resends)
    assert_timing(delivery, redials=redials, interval=dt.timedelta(minutes=15))
    assert_failed_soft_once(delivery)


@pytest.mark.parametrize("resends", COUNTS)
def test_email_sends_follow_256(resends, daytime, smtp_sim):
    setting_update(number=256, value=str(resends), user=None)
    setting_update(number=258, value="30", user=None)
    delivery = make_delivery(channel="email", client=make_client(email=MAILBOX_FULL))
    delivery = drive(delivery, daytime)
    assert provider_calls(smtp_sim, "rcpt_refused") == expected_calls(redials=0, resends=resends)
    assert_timing(delivery, redials=0, interval=dt.timedelta(minutes=30))
    assert delivery.bounce_category == "Quota-Issues"
    assert_failed_soft_once(delivery)
