"""The dispatcher: claiming with compare-and-set, sending once, checks at send time, restarts, back-off."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from bounces.services import dns_add
from clients.models import MessagingProfile
from clients.tests.factories import make_appointment, make_client
from messaging import dispatch
from messaging.beat import SWEEP_TASK_NAME, ensure_periodic_tasks
from messaging.channels.twilio.client import clear_twilio_client_cache
from messaging.models import Attempt, Broadcast, Delivery, Status
from messaging.services_settings import setting_update
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


def claim_all(now: dt.datetime) -> list[dispatch.Claim]:
    return dispatch.claim_due(now=now, channels=["sms"])


def send_all(now: dt.datetime) -> int:
    return sum(dispatch.send_claimed(c.ids, c.token) for c in claim_all(now))


def accepted(sim) -> list[dict]:
    return [r for r in sim.received() if r.get("kind") == "sms" and r.get("accepted")]


# --- claiming ---------------------------------------------------------------------------------------


def test_claim_takes_only_due_queued_rows_and_sets_a_lease(daytime, settings):
    settings.DISPATCH_LEASE_SECONDS = 60
    due = make_delivery()
    later = make_delivery(due=daytime.now() + dt.timedelta(minutes=5))
    scheduled = make_delivery(status=Status.SCHEDULED)
    claims = claim_all(daytime.now())
    assert [c.ids for c in claims] == [(due.pk,)]
    due = refreshed(due)
    assert due.status == Status.SENDING and due.claimed_by == claims[0].token
    assert due.lease_expires_at == daytime.now() + dt.timedelta(seconds=60)
    assert refreshed(later).status == Status.QUEUED and refreshed(scheduled).status == Status.SCHEDULED
    assert claim_all(daytime.now()) == []  # nothing left to claim


def test_claims_are_split_into_small_batches_and_limited_by_the_rate(daytime, settings):
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "sms": 4.0}
    settings.DISPATCH_SWEEP_SECONDS = 2
    settings.DISPATCH_BATCH_SIZE = 10
    for _ in range(30):
        make_delivery()
    claims = claim_all(daytime.now())
    assert [len(c.ids) for c in claims] == [4, 4, 4]  # 4/s x 2 s x 1.5 = 12 rows, batches of 4 (a second's worth)
    assert Delivery.objects.filter(status=Status.SENDING).count() == 12
    assert claim_all(daytime.now()) == []  # the backlog is full until these are sent


# --- sending ----------------------------------------------------------------------------------------


def test_send_records_the_attempt_and_the_provider_id(daytime, twilio_sim):
    delivery = make_delivery()
    assert send_all(daytime.now()) == 1
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENT and delivery.provider_message_id.startswith("SM")
    assert delivery.sent_at == daytime.now() and delivery.attempt_count == 1 and delivery.lease_expires_at is None
    attempt = Attempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.kind, attempt.outcome) == (1, "first", "accepted")
    assert attempt.provider_message_id == delivery.provider_message_id
    assert attempt.request_summary["to"] == delivery.address
    [record] = accepted(twilio_sim)
    assert record["to"] == delivery.address and record["body"] == "Riverbend Behavioral Health: Office closed Friday"
    assert record["status_callback"].endswith(f"/webhooks/twilio/sms/{delivery.token}/status")


def written_back_groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the groups :func:`dispatch._write_back` writes, in order (it still writes them)."""
    sizes: list[int] = []
    write_back = dispatch._write_back

    def spy(group: list[dispatch._Accepted]) -> None:
        sizes.append(len(group))
        write_back(group)

    monkeypatch.setattr("messaging.dispatch.writeback._write_back", spy)  # _Results.flush looks it up there
    return sizes


def test_results_are_written_back_in_groups(daytime, twilio_sim, settings, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    settings.DISPATCH_BATCH_SIZE = 12
    settings.DISPATCH_WRITE_BACK_ROWS = 5
    settings.DISPATCH_WRITE_BACK_MS = 60_000
    deliveries = [make_delivery() for _ in range(12)]
    [claim] = claim_all(daytime.now())
    groups = written_back_groups(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.send_claimed(claim.ids, claim.token) == 12
    sids = {r["sid"] for r in accepted(twilio_sim)}
    for delivery in map(refreshed, deliveries):
        assert delivery.status == Status.SENT and delivery.provider_message_id in sids
        assert delivery.lease_expires_at is None and delivery.sent_at == daytime.now()
        attempt = Attempt.objects.get(delivery=delivery)
        assert (attempt.outcome, attempt.provider_message_id) == ("accepted", delivery.provider_message_id)
    assert groups == [5, 5, 2]  # 5 + 5 + the 2 left at the end of the batch
    write_backs = [q["sql"] for q in queries.captured_queries if 'UPDATE "messaging_attempt"' in q["sql"]]
    if connection.vendor == "postgresql":  # one statement per group, committed on its own
        assert len(write_backs) == 3 and all(sql.startswith("WITH v AS") for sql in write_backs)
    else:  # one executemany (pipelined) per group
        assert [sql.split(" times")[0] for sql in write_backs] == ["5", "5", "2"]


def test_a_group_is_written_once_its_oldest_result_waited_long_enough(daytime, twilio_sim, settings, monkeypatch):
    settings.DISPATCH_WRITE_BACK_ROWS = 100
    settings.DISPATCH_WRITE_BACK_MS = 0  # no waiting: each result is written as it comes
    deliveries = [make_delivery() for _ in range(3)]
    [claim] = claim_all(daytime.now())
    groups = written_back_groups(monkeypatch)
    assert dispatch.send_claimed(claim.ids, claim.token) == 3
    assert all(refreshed(d).status == Status.SENT for d in deliveries)
    assert groups == [1, 1, 1]


def test_a_callback_that_settled_the_delivery_first_keeps_its_status_and_gains_the_provider_id(daytime, twilio_sim):
    first, second = make_delivery(), make_delivery()
    [claim] = claim_all(daytime.now())
    run = "run-token"
    Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(claimed_by=run, attempt_count=1)
    attempts = {d.pk: Attempt.objects.create(delivery_id=d.pk, number=1) for d in (first, second)}
    Delivery.objects.filter(pk=first.pk).update(status=Status.DELIVERED)  # the callback came first
    now = daytime.now()
    group = [
        dispatch._Accepted(
            d.pk,
            run,
            attempts[d.pk].pk,
            {"status": Status.SENT, "provider_message_id": f"SM{d.pk}", "sent_at": now, "lease_expires_at": None,
             "status_reason": "", "updated_at": now},
            {"finished_at": now, "provider_message_id": f"SM{d.pk}", "request_summary": {"to": d.address},
             "response": {"sid": f"SM{d.pk}"}, "outcome": "accepted"},
        )
        for d in (first, second)
    ]  # fmt: skip
    dispatch._write_back(group)
    first, second = refreshed(first), refreshed(second)
    assert (first.status, first.provider_message_id) == (Status.DELIVERED, f"SM{first.pk}")
    assert (second.status, second.provider_message_id) == (Status.SENT, f"SM{second.pk}")
    assert Attempt.objects.get(pk=attempts[first.pk].pk).outcome == "accepted"
    assert Attempt.objects.get(pk=attempts[second.pk].pk).response == {"sid": f"SM{second.pk}"}
    assert claim.ids  # the claim itself was taken over by the run above


def test_a_task_delivered_twice_sends_once(daytime, twilio_sim):
    make_delivery()
    [claim] = claim_all(daytime.now())
    assert dispatch.send_claimed(claim.ids, claim.token) == 1
    assert dispatch.send_claimed(claim.ids, claim.token) == 0  # redelivered task: claim no longer "sending"
    assert len(accepted(twilio_sim)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_the_same_claim_send_once(daytime, twilio_sim, settings):
    settings.DISPATCH_BATCH_SIZE = 50
    for _ in range(20):
        make_delivery()
    [claim] = claim_all(daytime.now())
    results: list[int] = []

    def worker() -> None:
        try:
            results.append(dispatch.send_claimed(claim.ids, claim.token))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 20
    assert len(accepted(twilio_sim)) == 20
    assert sorted(r["to"] for r in accepted(twilio_sim)) == sorted(Delivery.objects.values_list("address", flat=True))


def test_a_stale_claim_token_sends_nothing(daytime, twilio_sim):
    delivery = make_delivery()
    [claim] = claim_all(daytime.now())
    assert dispatch.send_one(delivery.pk, "someone-else") == 0
    assert refreshed(delivery).status == Status.SENDING and accepted(twilio_sim) == []
    assert dispatch.send_one(delivery.pk, claim.token) == 1


def test_provider_refusal_is_classified_at_send_time(daytime, twilio_sim):
    invalid = make_delivery(client=make_client(cell_phone="+16175550004"))  # the simulator answers 21211
    stopped = make_delivery(client=make_client(cell_phone="+16175550005"))  # 21610: replied STOP
    send_all(daytime.now())
    invalid, stopped = refreshed(invalid), refreshed(stopped)
    assert (invalid.status, invalid.bounce_category, invalid.hard_bounce) == (Status.FAILED, "Bad-Mailbox", True)
    assert (stopped.status, stopped.bounce_category) == (Status.FAILED, "DNS")
    assert invalid.error_code == "21211" and Attempt.objects.get(delivery=invalid).outcome == "failed"
    from bounces.models import DoNotSendEntry

    assert set(DoNotSendEntry.objects.values_list("address", "reason")) == {
        (invalid.address, "hard_bounce"),
        (stopped.address, "sms_stop"),
    }


# --- checks at send time ------------------------------------------------------------------------------


def test_consent_withdrawn_after_refresh_suppresses(daytime, twilio_sim):
    delivery = make_delivery()
    MessagingProfile.objects.filter(client=delivery.client).update(consent_given=False)
    send_all(daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.SUPPRESSED and delivery.status_reason == "No messaging consent"
    assert delivery.attempt_count == 0 and accepted(twilio_sim) == []


def test_do_not_send_entry_added_after_refresh_suppresses_with_category(daytime, twilio_sim):
    delivery = make_delivery()
    dns_add(channel="sms", address=delivery.address, reason="staff")
    send_all(daytime.now())
    delivery = refreshed(delivery)
    assert (delivery.status, delivery.bounce_category, delivery.hard_bounce) == (Status.SUPPRESSED, "DNS", True)
    # the words Refresh shows for the same entry (messaging.exclusions.Why.dns)
    assert delivery.status_reason == "The address is on the Do-Not-Send list (Added by staff)"
    assert accepted(twilio_sim) == []


def test_changed_chart_number_is_used_at_send_time(daytime, twilio_sim):
    delivery = make_delivery()
    client = delivery.client
    client.cell_phone = "+16175550199"
    client.save()
    send_all(daytime.now())
    assert refreshed(delivery).address == "+16175550199"
    assert [r["to"] for r in accepted(twilio_sim)] == ["+16175550199"]


def test_cancelled_broadcast_and_cancelled_appointment_are_not_sent(daytime, twilio_sim):
    first = make_delivery()
    Broadcast.objects.filter(pk=first.broadcast_id).update(state=Broadcast.State.CANCELLED)
    client = make_client()
    appointment = make_appointment(client, status="cancelled")
    second = make_delivery(client=client, code="client-upcoming-appointment", appointment=appointment)
    send_all(daytime.now())
    assert refreshed(first).status == Status.CANCELLED and refreshed(second).status == Status.CANCELLED
    assert refreshed(first).status_reason == "Broadcast cancelled"
    assert refreshed(second).status_reason == "Appointment cancelled" and accepted(twilio_sim) == []


def test_missing_template_fails_as_our_configuration(daytime, twilio_sim):
    delivery = make_delivery()
    delivery.message_type.templates.filter(channel="sms").delete()
    send_all(daytime.now())
    delivery = refreshed(delivery)
    assert (delivery.status, delivery.bounce_category, delivery.hard_bounce) == (
        Status.FAILED,
        "Bad-Configuration",
        False,
    )
    assert accepted(twilio_sim) == []


# --- restart of unfinished jobs --------------------------------------------------------------------------


def interrupted(channel: str = "sms", **fields) -> Delivery:
    """A delivery whose worker died after starting attempt 1 (lease expired)."""
    delivery = make_delivery(channel=channel, status=Status.SENDING, claimed_by="dead", attempt_count=1, **fields)
    Attempt.objects.create(delivery=delivery, number=1)
    return delivery


def test_interrupted_send_is_restarted_only_after_the_grace_period(daytime, settings, twilio_sim):
    """Twilio is asked first (messaging.dispatch.ambiguous): it has no such message, so it is sent again."""
    settings.DISPATCH_RESTART_GRACE_SECONDS = 300
    delivery = interrupted(lease_expires_at=daytime.now() - dt.timedelta(seconds=10))
    assert dispatch.restart_unfinished(now=daytime.now()) == 0
    assert refreshed(delivery).status == Status.SENDING
    daytime.advance(seconds=300)
    assert dispatch.restart_unfinished(now=daytime.now()) == 1
    delivery = refreshed(delivery)
    assert delivery.status == Status.QUEUED and delivery.retry_kind == "restart" and delivery.claimed_by == ""
    assert Attempt.objects.get(delivery=delivery).outcome == "interrupted"


def test_restarted_delivery_is_sent_with_a_restart_attempt(daytime, twilio_sim, settings):
    settings.DISPATCH_RESTART_GRACE_SECONDS = 0
    delivery = interrupted(lease_expires_at=daytime.now() - dt.timedelta(seconds=1))
    dispatch.restart_unfinished(now=daytime.now())
    send_all(daytime.now())
    assert refreshed(delivery).status == Status.SENT
    assert list(Attempt.objects.filter(delivery=delivery).values_list("number", "kind", "outcome")) == [
        (1, "first", "interrupted"),
        (2, "restart", "accepted"),
    ]


def test_claim_lost_with_its_worker_is_queued_again_without_waiting(daytime, settings):
    settings.DISPATCH_RESTART_GRACE_SECONDS = 3600
    delivery = make_delivery(status=Status.SENDING, claimed_by="dead", lease_expires_at=daytime.now())
    daytime.advance(seconds=1)
    assert dispatch.restart_unfinished(now=daytime.now()) == 1
    delivery = refreshed(delivery)
    assert delivery.status == Status.QUEUED and delivery.retry_kind == "" and delivery.attempt_count == 0


def test_provider_already_has_it_so_it_is_not_resent(daytime, settings):
    settings.DISPATCH_RESTART_GRACE_SECONDS = 0
    delivery = interrupted(lease_expires_at=daytime.now() - dt.timedelta(seconds=1))
    Attempt.objects.filter(delivery=delivery).update(provider_message_id="SMknown")
    dispatch.restart_unfinished(now=daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENT and delivery.provider_message_id == "SMknown"


@pytest.mark.parametrize(("channel", "number"), [("fax", 259), ("voice", 271)])
def test_restart_setting_off_marks_failed_with_the_reason(daytime, settings, channel, number, twilio_sim):
    settings.DISPATCH_RESTART_GRACE_SECONDS = 0
    setting_update(number=number, value="no", user=None)
    delivery = interrupted(channel, lease_expires_at=daytime.now() - dt.timedelta(seconds=1))
    dispatch.restart_unfinished(now=daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.FAILED and delivery.error_code == "interrupted"
    assert f"setting {number} (Restart unfinished Job) is off" in delivery.status_reason


def test_ambiguous_network_failure_waits_for_the_restart_rules(daytime, settings):
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused = not sent
    clear_twilio_client_cache()
    delivery = make_delivery()
    send_all(daytime.now())
    delivery = refreshed(delivery)
    assert delivery.status == Status.QUEUED and delivery.next_attempt_at > daytime.now()
    assert Attempt.objects.get(delivery=delivery).outcome == "error"
    clear_twilio_client_cache()


# --- throttling -----------------------------------------------------------------------------------------


class _TooManyRequests(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"code": 20429, "message": "Too Many Requests", "status": 429}).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def busy_twilio(settings) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TooManyRequests)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    clear_twilio_client_cache()
    yield settings.TWILIO_API_BASE
    server.shutdown()
    clear_twilio_client_cache()


def test_429_backs_off_with_jitter_and_pauses_the_channel(daytime, busy_twilio):
    from messaging import ratelimit

    delivery = make_delivery()
    send_all(daytime.now())
    delivery = refreshed(delivery)
    wait = (delivery.next_attempt_at - daytime.now()).total_seconds()
    assert delivery.status == Status.QUEUED and 0.5 <= wait <= 1.0  # first back-off: 0.5-1 s
    assert delivery.error_code == "20429" and delivery.bounce_category == ""
    assert Attempt.objects.get(delivery=delivery).outcome == "throttled"
    assert not ratelimit.acquire("sms", max_sleep=0).ok  # every worker pauses the channel


# --- celery wiring ------------------------------------------------------------------------------------


def test_sweep_task_sends_through_celery(daytime, twilio_sim, settings):
    from pimsy_messaging.celery import app

    app.conf.task_always_eager = True
    try:
        delivery = make_delivery()
        from messaging.tasks import sweep

        sweep.delay()
    finally:
        app.conf.task_always_eager = False
    assert refreshed(delivery).status == Status.SENT and len(accepted(twilio_sim)) == 1


def test_a_task_out_of_drain_time_hands_the_backlog_over_as_a_new_task(daytime, twilio_sim, settings, monkeypatch):
    settings.DISPATCH_BATCH_SIZE = 1  # a hand-over claims 1 x DRAIN_BATCH_FACTOR = 10 (no rate limit)
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "sms": 0}
    for _ in range(30):
        make_delivery()
    first = dispatch.claim_batch(channel="sms", now=daytime.now(), limit=2)[0]
    handed: list[dispatch.Claim] = []
    monkeypatch.setattr("messaging.dispatch.send.enqueue", handed.append)  # the hand-over looks it up there
    assert dispatch.send_claimed(first.ids, first.token, drain_seconds=1e-9) == 1
    [claim] = handed
    size = dispatch.DRAIN_BATCH_FACTOR
    assert len(claim.ids) == size
    assert Delivery.objects.filter(pk__in=claim.ids, status=Status.SENDING, claimed_by=claim.token).count() == size
    assert dispatch.send_claimed(claim.ids, claim.token) == size  # the new task sends them


def test_a_hand_over_to_a_broker_that_is_down_gives_the_rows_back(daytime, twilio_sim, settings, monkeypatch, caplog):
    settings.DISPATCH_BATCH_SIZE = 2
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "sms": 0}
    for _ in range(12):
        make_delivery()
    [first] = dispatch.claim_batch(channel="sms", now=daytime.now(), limit=2)

    def broker_down(claim):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("messaging.dispatch.send.enqueue", broker_down)
    assert dispatch.send_claimed(first.ids, first.token, drain_seconds=1e-9) == 2
    assert Delivery.objects.filter(status=Status.SENT).count() == 2
    assert Delivery.objects.filter(status=Status.QUEUED, claimed_by="").count() == 10
    assert "could not hand the backlog over" in caplog.text


def test_kick_sweeper_survives_a_broker_that_is_down(monkeypatch, caplog):
    from kombu.exceptions import OperationalError

    from messaging.tasks import sweep

    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(sweep, "apply_async", unreachable)
    dispatch.kick_sweeper()  # does not raise: the periodic sweep picks the work up
    assert "could not kick the sweeper" in caplog.text


def test_periodic_sweep_is_created_once():
    from django_celery_beat.models import PeriodicTask

    ensure_periodic_tasks()
    ensure_periodic_tasks()
    task = PeriodicTask.objects.get(name=SWEEP_TASK_NAME)
    assert task.task == "messaging.sweep" and task.interval.every == 5 and task.interval.period == "seconds"


def test_restart_never_requeues_a_claim_whose_attempt_started_meanwhile(daytime, settings):
    """The restart read the row (lease expired, nothing started); then the slow worker starts sending."""
    settings.DISPATCH_RESTART_GRACE_SECONDS = 0
    delivery = make_delivery(status=Status.SENDING, claimed_by="slow", lease_expires_at=daytime.now())
    daytime.advance(seconds=1)
    [row] = Delivery.objects.filter(pk=delivery.pk).values_list(
        "id", "channel", "claimed_by", "provider_message_id", "attempt_count", "lease_expires_at"
    )
    assert dispatch._take_for_run({delivery.pk: None}, "slow", "slow-run", now=daytime.now()) == {delivery.pk: 1}
    assert dispatch._restart_one(*row, now=daytime.now()) == 0
    delivery = refreshed(delivery)
    assert delivery.status == Status.SENDING and delivery.claimed_by == "slow-run" and delivery.attempt_count == 1
