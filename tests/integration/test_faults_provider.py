"""A provider outage is ridden out: paused, probed, resumed, nothing sent twice (issue 17, scenario 3).

A broadcast of texts and calls goes out through a real worker to the Twilio simulator, paced by
the SMS rate so it is still going when the outage begins. When a quarter has been accepted, the
simulator answers HTTP 503 to every create for ``FAIL`` seconds, then for ``HANG`` seconds
*accepts* every create but holds its answer back longer than the client waits (the client sees a
read timeout while Twilio has the message); then it answers normally. A third of its status
callbacks are lost throughout, so reconciliation and the "ask before sending again" look-up
(``messaging.dispatch.ambiguous``) both have work. This process plays beat (sweep and reconcile).

Asserted at the end: every delivery delivered; each message reached the simulator exactly once
(the timed-out creates were adopted, never sent again); the channel was paused (few 503s, not one
per message and retry), staff saw the banner while it lasted, and sending resumed within the
probe interval of the provider's recovery. The figures are printed.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest -s tests/integration/test_faults_provider.py``;
``PIMSY_OUTAGE_SECONDS=60`` plays the issue's full minute (default 16: 10 of 503s, 6 of timeouts).
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import Beat, wait_for
from tests.integration.test_dispatch_worker import FINAL, bulk_deliveries, make_workers, token_of

BROKER = os.environ.get("DISPATCH_TEST_BROKER", "redis://127.0.0.1:6379/4")
OUTAGE = float(os.environ.get("PIMSY_OUTAGE_SECONDS", "16"))
FAIL, HANG = OUTAGE * 0.625, OUTAGE * 0.375
SCALE = float(os.environ.get("PIMSY_FAULTS_SCALE", "0.5"))  # 1: the 2,000 messages
SMS, VOICE = int(1700 * SCALE), int(300 * SCALE)
SMS_RATE = 40  # per second: the broadcast lasts well past the outage's start
TIMEOUT = 1.0  # TWILIO_TIMEOUT_SECONDS in the worker
PROBE, PROBE_MAX, FAILURES = 1.0, 4.0, 5

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_provider_outage_pauses_the_channel_and_nothing_is_sent_twice(
    services: None, tmp_path: Path, clock_file: str, live_server: Any, settings: Any
) -> None:
    from messaging.dispatch.outages import banners
    from messaging.models import Attempt, Delivery, ProviderOutage
    from messaging.simulators.base import Recorder
    from messaging.simulators.twilio_sim import start_twilio_sim

    settings.PUBLIC_BASE_URL = live_server.url
    with start_twilio_sim(
        account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN,
        callback_delay_ms=10, drop_callbacks=0.33, drop_seed=23,
    ) as twilio:  # fmt: skip
        twilio.sim.recorder = Recorder(max_records=20_000)
        workers = make_workers(
            tmp_path, clock_file, live_server.url, TWILIO_API_BASE=twilio.url,
            RATE_SMS_PER_SECOND=str(SMS_RATE), RATE_VOICE_PER_SECOND="0",
            TWILIO_TIMEOUT_SECONDS=str(TIMEOUT), DISPATCH_RESTART_GRACE_SECONDS="3",
            PROVIDER_OUTAGE_FAILURES=str(FAILURES), PROVIDER_PROBE_SECONDS=str(PROBE),
            PROVIDER_PROBE_MAX_SECONDS=str(PROBE_MAX), RECONCILE_AFTER_SECONDS="6", RECONCILE_BATCH="500",
        )  # fmt: skip
        _, sms = bulk_deliveries([f"+1617555{n:04d}" for n in range(3000, 3000 + SMS)])
        _, calls = bulk_deliveries([f"+1781555{n:04d}" for n in range(3000, 3000 + VOICE)], channel="voice")
        everyone = [d.pk for d in sms + calls]
        total = len(everyone)
        seen_banner: list[str] = []

        def accepted() -> int:
            return sum(1 for r in twilio.received() if r.get("sid"))

        resumed: list[float] = []

        def finished() -> bool:
            now = time.monotonic()
            if not seen_banner:
                seen_banner.extend(b.text for b in banners())
            elif not resumed and now > recovered_at and not banners():
                resumed.append(now - recovered_at)  # sending resumed this long after the provider recovered
            return Delivery.objects.filter(pk__in=everyone, status__in=FINAL).count() == total

        beat, recovered_at = None, float("inf")
        try:
            workers.start()
            beat = Beat(BROKER, {"messaging.sweep": 0.5, "messaging.reconcile": 2.0})
            wait_for(lambda: accepted() >= total // 4, timeout=60, what="a quarter of the broadcast accepted")
            started = time.monotonic()
            twilio.sim.outage.start(FAIL, HANG, hang_for=TIMEOUT * 3)
            recovered_at = started + FAIL + HANG
            wait_for(lambda: finished(), timeout=OUTAGE + 100, what=f"every delivery of {total} to be final")
            done = time.monotonic()
        except AssertionError:
            print(workers.log_tail())
            print(collections.Counter(Delivery.objects.filter(pk__in=everyone).values_list("channel", "status")))
            raise
        finally:
            if beat is not None:
                beat.stop()
            workers.stop_all()
        records = [r for r in twilio.received() if r.get("sid")]
        refused, hung = twilio.sim.outage.refused, twilio.sim.outage.hung

    per_token = collections.Counter(token_of(r.get("status_callback") or "") for r in records)
    tokens = dict(Delivery.objects.filter(pk__in=everyone).values_list("token", "pk"))
    outage_rows = list(ProviderOutage.objects.order_by("channel"))
    retries = Attempt.objects.filter(delivery__in=everyone, outcome__in=("error", "unknown")).count()
    adopted = Attempt.objects.filter(delivery__in=everyone, error_detail__endswith="not sent again").count()
    lag = f"{resumed[0]:.1f}s" if resumed else "?"
    print(
        f"\nprovider outage: {total} deliveries ({SMS} SMS, {VOICE} calls); outage {FAIL:.0f}s of 503 + {HANG:.0f}s "
        f"of timeouts; final {done - started:.1f}s after it began; {refused} creates answered 503, {hung} timed out "
        f"(accepted); {retries} attempts retried; {adopted} timed-out creates adopted, not resent; "
        f"channels paused {[r.channel for r in outage_rows if r.paused_at]}, probes "
        f"{ {r.channel: r.probes for r in outage_rows} }; sending resumed {lag} after "
        "the provider recovered"
    )

    assert set(per_token) == set(tokens), "every message reached the provider"
    assert max(per_token.values()) == 1, [t for t, n in per_token.items() if n > 1][:3]
    assert set(Delivery.objects.filter(pk__in=everyone).values_list("status", flat=True)) == {"delivered"}
    assert "sms" in [r.channel for r in outage_rows if r.paused_at], "the text channel was paused"
    assert all(r.ended_at is not None for r in outage_rows), "every outage ended"
    assert seen_banner and seen_banner[0].endswith("They go out when it answers again.")
    # Paused, not hammered: a handful of failures per channel and worker slot, then a probe at a time.
    probes_bound = 2 * (FAIL / PROBE + 2)
    assert refused <= 2 * 8 + probes_bound, refused
    assert resumed and resumed[0] <= PROBE_MAX + 6, resumed
    quiet = [tokens[token_of(r.get("status_callback") or "")] for r in records if r.get("quiet")]
    story = {pk: list(Attempt.objects.filter(delivery_id=pk).values_list("number", "outcome", "error_code"))
             for pk in quiet}  # fmt: skip
    assert adopted == hung, (adopted, hung, story)  # every create that timed out was found at Twilio, none resent
