"""The dispatcher with a real Celery worker process, Redis and PostgreSQL (issue 4's reliability goals).

* SIGKILL the worker in the middle of a 2,000-message broadcast, start a new one: every delivery
  reaches a final state and the Twilio simulator received each message exactly once.
* Replaying every provider callback three times in shuffled order gives the same final states as
  applying them once in order.
* Stop time 21:00: a delivery at 20:59 in the recipient's zone goes out, one at 21:00 waits for the
  next morning's window (time shared with the worker through ``PIMSY_CLOCK_FILE``).

The worker is ``celery -A pimsy_messaging worker --pool threads`` with this test's database;
this process plays Celery beat (a ``messaging.sweep`` task every half second), runs the provider
simulators, and receives their callbacks on the live server (or records them, for the replay).

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy pytest tests/integration/test_dispatch_worker.py``
(Redis at ``DISPATCH_TEST_BROKER``, default ``redis://127.0.0.1:6379/4``).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.integration.support import NY, ROOT, wait_for

BROKER = os.environ.get("DISPATCH_TEST_BROKER", "redis://127.0.0.1:6379/4")
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
FINAL = ("delivered", "failed", "suppressed", "cancelled")

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


# --- environment ------------------------------------------------------------------------------------


@pytest.fixture
def fax(settings: Any) -> Iterator[Any]:
    from messaging.simulators.fax_sim import start_fax_sim

    with start_fax_sim(
        project_id=settings.FAX_PROJECT_ID,
        key_id=settings.FAX_KEY_ID,
        key_secret=settings.FAX_KEY_SECRET,
        callback_user=settings.FAX_CALLBACK_USER,
        callback_password=settings.FAX_CALLBACK_PASSWORD,
        callback_delay_ms=10,
    ) as handle:
        yield handle


@dataclass
class Workers:
    """Start / kill worker processes and play beat; everything is stopped at the end."""

    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _beat: threading.Event = field(default_factory=threading.Event)
    _beat_thread: threading.Thread | None = None

    def start(self, concurrency: int = 8) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "celery", "-A", "pimsy_messaging", "worker", "--pool", "threads",
            "-c", str(concurrency), "-l", "WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat",
            "-n", f"dispatch-{len(self.started)}@%h",
        ]  # fmt: skip
        log = open(self.logs / f"worker-{len(self.started)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def start_beat(self, every: float = 0.5) -> None:
        """This process plays Celery beat: a sweep task on the broker every ``every`` seconds."""
        from celery import Celery

        client = Celery("dispatch-test-beat", broker=BROKER, set_as_current=False)

        def run() -> None:
            # An explicit connection: a CELERY_BROKER_URL in the environment (as in CI) would
            # otherwise win over the broker given above and send the sweeps nowhere.
            with client.connection_for_write(url=BROKER) as connection:
                while not self._beat.wait(every):
                    client.send_task("messaging.sweep", connection=connection)

        self._beat_thread = threading.Thread(target=run, daemon=True)
        self._beat_thread.start()

    def stop_beat(self) -> None:
        self._beat.set()
        if self._beat_thread is not None:
            self._beat_thread.join(timeout=5)

    def stop_all(self) -> None:
        self.stop_beat()
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def log_tail(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.logs.glob("worker-*.log")))


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def make_workers(tmp_path: Path, clock_file: str, public_base_url: str, **extra: str) -> Workers:
    env = {
        **os.environ,
        "PIMSY_TESTING": "1",
        "PIMSY_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER,
        "RATE_LIMIT_REDIS_URL": BROKER,
        "PIMSY_CLOCK_FILE": clock_file,
        "PUBLIC_BASE_URL": public_base_url,
        "DISPATCH_LEASE_SECONDS": "4",
        "DISPATCH_RESTART_GRACE_SECONDS": "25",  # callbacks queue behind thousands of others (lags of 10 s seen)
        "DISPATCH_SWEEP_SECONDS": "1",
        "RATE_SMS_PER_SECOND": "0",  # unlimited: the test is about correctness, not pacing
        "RATE_FAX_PER_SECOND": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return Workers(env=env, logs=tmp_path)


# --- data ---------------------------------------------------------------------------------------------


def bulk_deliveries(numbers: list[str], *, channel: str = "sms", zone: str = "") -> tuple[Any, list[Any]]:
    """One broadcast with one queued delivery per number (clients created in bulk, with consent)."""
    from clients.models import Client, MessagingProfile
    from core import clock
    from messaging.models import Broadcast, Delivery, MessageType

    kind = MessageType.objects.get(code="ad-hoc-clients")
    now = clock.now()
    broadcast = Broadcast.objects.create(
        message_type=kind, description="Office closed Friday", broadcast_at=now, channels=[channel]
    )
    field_name = "fax" if channel == "fax" else "cell_phone"
    clients = Client.objects.bulk_create(
        [Client(first_name=f"C{i}", last_name="Load", time_zone=zone, **{field_name: n}) for i, n in enumerate(numbers)]
    )
    MessagingProfile.objects.bulk_create([MessagingProfile(client=c, consent_given=True) for c in clients])
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                broadcast=broadcast,
                message_type=kind,
                channel=channel,
                client=c,
                recipient_name=c.first_name,
                address=n,
                address_source="chart",
                next_attempt_at=now,
            )
            for c, n in zip(clients, numbers, strict=True)
        ]
    )
    return broadcast, deliveries


def statuses(broadcast: Any) -> collections.Counter[str]:
    return collections.Counter(broadcast.deliveries.values_list("status", flat=True))


# --- 1. SIGKILL in the middle of a broadcast ------------------------------------------------------------


def test_sigkill_mid_broadcast_every_message_exactly_once(
    services: None, tmp_path: Path, clock_file: str, twilio: Any, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url  # callbacks from the simulator reach this process
    workers = make_workers(tmp_path, clock_file, live_server.url, TWILIO_API_BASE=twilio.url)
    numbers = [f"+1617555{n:04d}" for n in range(2000, 4000)]
    broadcast, deliveries = bulk_deliveries(numbers)
    tokens = {d.token: d.pk for d in deliveries}
    try:
        first = workers.start()
        workers.start_beat()
        wait_for(lambda: statuses(broadcast)["delivered"] + statuses(broadcast)["sent"] >= 500, timeout=60,
                 what="a quarter of the broadcast to go out")  # fmt: skip
        workers.kill(first)
        midway = statuses(broadcast)
        assert sum(midway[s] for s in FINAL) < 2000, f"the worker finished before it was killed: {midway}"
        workers.start()
        wait_for(lambda: sum(statuses(broadcast)[s] for s in FINAL) == 2000, timeout=150,
                 what=f"every delivery to reach a final state (killed at {dict(midway)})")  # fmt: skip
    except AssertionError:
        print(workers.log_tail())
        raise
    finally:
        workers.stop_all()
    assert statuses(broadcast) == {"delivered": 2000}
    sent = [r for r in twilio.received() if r.get("kind") == "sms" and r.get("accepted")]
    per_token = collections.Counter(urlsplit(r["status_callback"]).path.split("/")[4] for r in sent)
    twice = [t for t, n in per_token.items() if n > 1]
    assert set(per_token) == set(tokens) and not twice, describe_duplicates([tokens[t] for t in twice[:3]])
    assert len(sent) == 2000


def describe_duplicates(pks: list[int]) -> str:
    """What happened to deliveries the simulator received twice (attempts and provider events)."""
    from messaging.models import Attempt, ProviderEvent

    lines = ["a message was sent twice:"]
    for pk in pks:
        attempts = Attempt.objects.filter(delivery_id=pk).values_list("number", "kind", "outcome", "started_at")
        events = ProviderEvent.objects.filter(delivery_id=pk).values_list("event_id", "received_at", "applied")
        lines.append(f"delivery {pk}: attempts {list(attempts)}; events {list(events)}")
    return "\n".join(lines)


# --- 2. callbacks replayed out of order ------------------------------------------------------------------

SMS_SUFFIXES = ["4321", "0001", "0002", "0003"]  # delivered, unreachable (soft), landline (hard), filtered (soft)
FAX_SUFFIXES = ["1234", "0021", "0023"]  # completed, busy (redial), not operational (hard)


def token_of(path: str) -> str:
    """/webhooks/twilio/sms/<token>/status or /webhooks/fax/<token>/ -> token."""
    parts = urlsplit(path).path.strip("/").split("/")
    return parts[3] if parts[1] == "twilio" else parts[2]


def replay(http: Any, hit: Any) -> Any:
    path = urlsplit(hit.path).path
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in hit.headers.items()
               if k.lower() in ("x-twilio-signature", "authorization")}  # fmt: skip
    return http.generic("POST", path, hit.body, content_type=hit.headers.get("Content-Type", ""), **headers)


def final_states(deliveries: list[Any], key: Callable[[Any], str]) -> list[tuple[Any, ...]]:
    from messaging.models import Delivery

    rows = Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    return sorted(
        (
            key(d),
            d.status,
            d.bounce_category,
            d.hard_bounce,
            d.redial_count,
            d.resend_count,
            d.provider_message_id != "",
        )
        for d in rows
    )


def test_replaying_callbacks_three_times_shuffled_gives_the_same_states(
    services: None, tmp_path: Path, clock_file: str, twilio: Any, fax: Any, client: Any, settings: Any
) -> None:
    from messaging.models import ProviderEvent
    from messaging.simulators.tests.support import start_receiver, stop_receiver

    capture = start_receiver()  # the simulators' callbacks are recorded here, then replayed by the test
    settings.PUBLIC_BASE_URL = capture.base  # signatures are checked against the URL Twilio called
    workers = make_workers(tmp_path, clock_file, capture.base, TWILIO_API_BASE=twilio.url, FAX_API_BASE=fax.url)
    in_order = [f"+1{area}555{s}" for area in (617, 781, 978) for s in SMS_SUFFIXES]
    shuffled = [f"+1{area}555{s}" for area in (508, 413, 339) for s in SMS_SUFFIXES]
    _, sms_a = bulk_deliveries(in_order)
    _, sms_b = bulk_deliveries(shuffled)
    _, fax_a = bulk_deliveries([f"+1617555{s}" for s in FAX_SUFFIXES], channel="fax")
    _, fax_b = bulk_deliveries([f"+1508555{s}" for s in FAX_SUFFIXES], channel="fax")
    group_a, group_b = sms_a + fax_a, sms_b + fax_b
    try:
        workers.start()
        workers.start_beat()
        # Per set: three areas x (2 + 2 + 1 + 2) SMS callbacks (sent + final; a landline only "failed"),
        # and one FAX_COMPLETED callback per fax.
        expected_callbacks = 2 * (3 * 7 + 3)
        wait_for(lambda: len(capture.hits) >= expected_callbacks and all(r.get("done") for r in twilio.received())
                 and all(r.get("done") for r in fax.received()), timeout=60, what="all callbacks")  # fmt: skip
    finally:
        workers.stop_all()
        stop_receiver(capture)
    assert {d.status for d in type(sms_a[0]).objects.all()} == {"sent"}  # nothing applied yet

    tokens_a = {d.token for d in group_a}
    hits_a = [h for h in capture.hits if token_of(h.path) in tokens_a]
    hits_b = [h for h in capture.hits if token_of(h.path) not in tokens_a]
    assert len(hits_a) == len(hits_b) == expected_callbacks // 2
    for hit in hits_a:
        assert replay(client, hit).status_code == 200
    events_a = ProviderEvent.objects.filter(delivery__in=group_a).count()
    replays = hits_b * 3
    random.Random(4).shuffle(replays)
    for hit in replays:
        assert replay(client, hit).status_code == 200

    def by_number(d: Any) -> str:
        return d.address[-4:] + d.channel

    assert final_states(group_a, by_number) == final_states(group_b, by_number)
    assert ProviderEvent.objects.filter(delivery__in=group_b).count() == events_a
    states = {row[0]: row[1:4] for row in final_states(group_a, by_number)}
    assert states["4321sms"] == ("delivered", "", None)
    assert states["0002sms"] == ("failed", "Bad-Mailbox", True)
    assert states["0021fax"][0] == "queued" and states["0023fax"][:3] == ("failed", "Bad-Mailbox", True)


# --- 3. stop time with a real worker --------------------------------------------------------------------


def test_stop_time_2059_sends_2100_waits_for_the_morning(
    services: None, tmp_path: Path, clock_file: str, twilio: Any, settings: Any
) -> None:
    from core.clock import write_clock_file
    from messaging.models import Delivery

    def at_chicago(*args: int) -> dt.datetime:
        return dt.datetime(*args, tzinfo=CHICAGO)

    write_clock_file(clock_file, at_chicago(2025, 6, 3, 20, 59))  # frozen: 20:59 Chicago, 21:59 New York
    workers = make_workers(tmp_path, clock_file, "http://127.0.0.1:9", TWILIO_API_BASE=twilio.url)
    _, [chicago_2059] = bulk_deliveries(["+13125550123"], zone="America/Chicago")
    _, [new_york] = bulk_deliveries(["+12125550123"], zone="America/New_York")
    try:
        workers.start(concurrency=2)
        workers.start_beat()
        wait_for(lambda: Delivery.objects.get(pk=chicago_2059.pk).status == "sent", timeout=30, what="the 20:59 text")
        wait_for(lambda: Delivery.objects.get(pk=new_york.pk).next_attempt_at > at_chicago(2025, 6, 3, 21, 0),
                 timeout=10, what="the New York text to be deferred")  # fmt: skip

        write_clock_file(clock_file, at_chicago(2025, 6, 3, 21, 0))
        _, [chicago_2100] = bulk_deliveries(["+13125550124"], zone="America/Chicago")
        wait_for(lambda: Delivery.objects.get(pk=chicago_2100.pk).next_attempt_at > at_chicago(2025, 6, 3, 21, 0),
                 timeout=10, what="the 21:00 text to be deferred")  # fmt: skip
        later = Delivery.objects.get(pk=chicago_2100.pk)
        assert later.status == "queued" and later.next_attempt_at == at_chicago(2025, 6, 4, 8, 0)
        assert Delivery.objects.get(pk=new_york.pk).next_attempt_at == dt.datetime(2025, 6, 4, 8, 0, tzinfo=NY)

        write_clock_file(clock_file, dt.datetime(2025, 6, 4, 8, 0, tzinfo=NY))  # 07:00 in Chicago
        wait_for(lambda: Delivery.objects.get(pk=new_york.pk).status == "sent", timeout=10, what="New York at 08:00")
        time.sleep(1.5)  # a few sweeps later the Chicago text still waits for its own 08:00
        assert Delivery.objects.get(pk=chicago_2100.pk).status == "queued"
        write_clock_file(clock_file, at_chicago(2025, 6, 4, 8, 0))
        wait_for(lambda: Delivery.objects.get(pk=chicago_2100.pk).status == "sent", timeout=10, what="Chicago at 08:00")
    except AssertionError:
        print(workers.log_tail())
        raise
    finally:
        workers.stop_all()
    sent = [r["to"] for r in twilio.received() if r.get("accepted")]
    assert sorted(sent) == sorted(["+13125550123", "+12125550123", "+13125550124"])
