from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from bounces.models import DoNotSendEntry
from clients.tests.factories import make_appointment, make_client
from messaging import broadcasts
from messaging.broadcasts import NothingToSend, broadcast_cancel, broadcast_create, broadcast_progress
from messaging.models import Broadcast, Delivery, MessageType, Status


@pytest.fixture
def upcoming(db):
    return MessageType.objects.get(code="client-upcoming-appointment")


@pytest.fixture
def kicks(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: calls.append(1))
    return calls


@pytest.fixture
def sender(django_user_model):
    return django_user_model.objects.create_user("sender")


def when(days: int = 1) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def send(message_type, sender, **kw):
    kw.setdefault("channels", ["sms"])
    kw.setdefault("start_date", timezone.localdate())
    kw.setdefault("end_date", timezone.localdate() + dt.timedelta(days=7))
    kw.setdefault("broadcast_at", when(1))
    return broadcast_create(message_type=message_type, user=sender, **kw)


def test_one_delivery_per_recipient_and_channel(upcoming, sender, kicks, django_capture_on_commit_callbacks):
    a, b = make_client(), make_client()
    make_appointment(a, start=when(2))
    make_appointment(b, start=when(3))
    broadcast_at = when(1)
    with django_capture_on_commit_callbacks(execute=True):
        result = send(upcoming, sender, channels=["sms", "email"], broadcast_at=broadcast_at, idempotency_key="k1")
    assert result.created and result.queued == 4 and result.suppressed == 0
    rows = list(Delivery.objects.filter(broadcast=result.broadcast).order_by("id"))
    assert {(d.client_id, d.channel) for d in rows} == {(a.pk, "sms"), (a.pk, "email"), (b.pk, "sms"), (b.pk, "email")}
    assert all(d.status == Status.QUEUED and d.next_attempt_at == broadcast_at for d in rows)
    assert all(d.appointment_id and d.address and d.address_source == "chart" for d in rows)
    assert result.broadcast.channels == ["sms", "email"]
    assert result.broadcast.created_by == sender and result.broadcast.sent_by_label == "sender"
    assert kicks == [1]  # the dispatcher is asked once, after commit


def test_dispatcher_not_kicked_before_commit(upcoming, sender, kicks, django_capture_on_commit_callbacks):
    make_appointment(make_client(), start=when(2))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send(upcoming, sender)
    assert kicks == [] and len(callbacks) == 1


def test_same_idempotency_key_never_creates_a_second_broadcast(upcoming, sender, kicks):
    make_appointment(make_client(), start=when(2))
    at = when(1)
    first = send(upcoming, sender, idempotency_key="double-click", broadcast_at=at)
    second = send(upcoming, sender, idempotency_key="double-click", broadcast_at=at)
    assert first.created and not second.created
    assert second.broadcast.pk == first.broadcast.pk
    assert Broadcast.objects.count() == 1 and Delivery.objects.count() == 1


def test_same_key_with_a_changed_message_is_a_new_broadcast(sender, kicks):
    """A form restored by Back/Forward keeps its key: a corrected message must still go out."""
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    make_client()
    at = when(1)
    first = send(ad_hoc, sender, idempotency_key="restored", broadcast_at=at, description="Clinic closed Monday")
    again = send(ad_hoc, sender, idempotency_key="restored", broadcast_at=at, description="Clinic closed Monday")
    fixed = send(ad_hoc, sender, idempotency_key="restored", broadcast_at=at, description="Clinic closed Tuesday")
    other_channel = send(
        ad_hoc,
        sender,
        idempotency_key="restored",
        broadcast_at=at,
        description="Clinic closed Tuesday",
        channels=["email"],
    )
    assert first.created and not again.created and again.broadcast.pk == first.broadcast.pk
    assert fixed.created and fixed.broadcast.description == "Clinic closed Tuesday"
    assert other_channel.created
    assert Broadcast.objects.count() == 3


def test_racing_request_with_same_key_returns_the_winner(upcoming, sender, kicks, monkeypatch):
    make_appointment(make_client(), start=when(2))
    winner = send(upcoming, sender, idempotency_key="race")
    # The loser checked before the winner committed: its own insert hits the unique key.
    real_existing = broadcasts._existing
    calls: list[str] = []

    def stale_first_check(key):
        calls.append(key)
        return None if len(calls) == 1 else real_existing(key)

    monkeypatch.setattr(broadcasts, "_existing", stale_first_check)
    loser = send(upcoming, sender, idempotency_key="race")
    assert len(calls) == 2  # the second look-up came from the IntegrityError path
    assert not loser.created and loser.broadcast.pk == winner.broadcast.pk
    assert Delivery.objects.count() == 1  # the loser's deliveries were rolled back


def test_different_keys_are_different_broadcasts(upcoming, sender, kicks):
    make_appointment(make_client(), start=when(2))
    send(upcoming, sender, idempotency_key="one")
    send(upcoming, sender, idempotency_key="two")
    assert Broadcast.objects.count() == 2


def test_do_not_send_addresses_become_suppressed_deliveries(upcoming, sender, kicks):
    blocked = make_client()
    make_appointment(blocked, start=when(2))
    make_appointment(make_client(), start=when(2))
    DoNotSendEntry.objects.create(channel="sms", address=str(blocked.cell_phone), reason="unsubscribe")
    result = send(upcoming, sender)
    assert (result.queued, result.suppressed) == (1, 1)
    row = Delivery.objects.get(client=blocked)
    assert row.status == Status.SUPPRESSED and row.bounce_category == "DNS" and row.hard_bounce is True
    assert row.next_attempt_at is None and row.finished_at is not None
    assert "Do-Not-Send" in row.status_reason


def test_non_consenting_clients_get_no_delivery(upcoming, sender, kicks):
    make_appointment(make_client(consent=False), start=when(2))
    ok = make_client()
    make_appointment(ok, start=when(2))
    result = send(upcoming, sender)
    assert list(Delivery.objects.values_list("client_id", flat=True)) == [ok.pk]
    assert result.queued == 1


def test_unticked_rows_are_skipped(upcoming, sender, kicks):
    keep = make_appointment(make_client(), start=when(2))
    skip = make_appointment(make_client(), start=when(2))
    send(upcoming, sender, skip_keys={f"a{skip.pk}"})
    assert list(Delivery.objects.values_list("appointment_id", flat=True)) == [keep.pk]


def test_nothing_to_send_raises_and_writes_nothing(upcoming, sender, kicks):
    make_appointment(make_client(consent=False), start=when(2))
    with pytest.raises(NothingToSend):
        send(upcoming, sender, idempotency_key="empty")
    assert Broadcast.objects.count() == 0


def test_past_broadcast_date_goes_out_now(upcoming, sender, kicks):
    make_appointment(make_client(), start=when(2))
    before = timezone.now()
    result = send(upcoming, sender, broadcast_at=before - dt.timedelta(hours=3))
    assert result.broadcast.broadcast_at >= before


def test_cancel_stops_only_what_has_not_gone_out(upcoming, sender, kicks):
    for _ in range(4):
        make_appointment(make_client(), start=when(2))
    result = send(upcoming, sender)
    rows = list(Delivery.objects.filter(broadcast=result.broadcast).order_by("id"))
    Delivery.objects.filter(pk=rows[0].pk).update(status=Status.SENDING)
    Delivery.objects.filter(pk=rows[1].pk).update(status=Status.DELIVERED)
    Delivery.objects.filter(pk=rows[2].pk).update(status=Status.SCHEDULED)
    assert broadcast_cancel(broadcast=result.broadcast, user=sender) == 2
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in rows] == [Status.SENDING, Status.DELIVERED, Status.CANCELLED, Status.CANCELLED]
    cancelled = Delivery.objects.get(pk=rows[3].pk)
    assert cancelled.status_reason == "Cancelled by sender" and cancelled.next_attempt_at is None
    result.broadcast.refresh_from_db()
    assert result.broadcast.state == Broadcast.State.CANCELLED
    assert broadcast_cancel(broadcast=result.broadcast, user=sender) == 0  # idempotent


def test_progress_counts(upcoming, sender, kicks):
    for _ in range(7):
        make_appointment(make_client(), start=when(2))
    result = send(upcoming, sender)
    ids = list(Delivery.objects.filter(broadcast=result.broadcast).order_by("id").values_list("pk", flat=True))
    Delivery.objects.filter(pk=ids[0]).update(status=Status.SENT)
    Delivery.objects.filter(pk=ids[1]).update(status=Status.DELIVERED)
    Delivery.objects.filter(pk=ids[2]).update(status=Status.FAILED, hard_bounce=True)
    Delivery.objects.filter(pk=ids[3]).update(status=Status.FAILED, hard_bounce=False)
    Delivery.objects.filter(pk=ids[4]).update(status=Status.SUPPRESSED)
    Delivery.objects.filter(pk=ids[5]).update(status=Status.SENDING)
    progress = broadcast_progress(result.broadcast.pk)
    assert (progress.queued, progress.sending, progress.sent, progress.delivered) == (1, 1, 1, 1)
    assert (progress.failed_hard, progress.failed_soft, progress.suppressed) == (1, 1, 1)
    assert progress.total == 7 and not progress.is_final
    Delivery.objects.filter(pk__in=[ids[0], ids[5], ids[6]]).update(status=Status.DELIVERED)
    final = broadcast_progress(result.broadcast.pk)
    assert final.is_final and final.done_percent == 100


def test_a_failing_kick_does_not_undo_the_send(upcoming, sender, monkeypatch, django_capture_on_commit_callbacks):
    def broker_down():
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("messaging.dispatch.kick_sweeper", broker_down)
    make_appointment(make_client(), start=when(2))
    with django_capture_on_commit_callbacks(execute=True):
        result = send(upcoming, sender)
    assert result.created and Delivery.objects.filter(status=Status.QUEUED).count() == 1
