"""Issue 14 §1: the Scheduled view — unfinished broadcasts, Cancel with a reason, Reschedule, and
holding / releasing automated messages waiting to go out."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from clients.tests.factories import make_client
from core import clock
from core.models import AccessLog
from messaging import scheduled as sched
from messaging.automation.release import release_due
from messaging.broadcasts import broadcast_cancel, broadcast_create, broadcast_progress
from messaging.dispatch.claim import claim_batch
from messaging.models import Broadcast, Delivery, DeliveryHold, MessageType, Status

pytestmark = pytest.mark.django_db
ZONE = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=ZONE)  # a Monday, 10 AM clinic time


@pytest.fixture(autouse=True)
def _frozen(monkeypatch, settings):
    settings.TIME_ZONE = "America/New_York"
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    with clock.freeze(NOW) as frozen:
        yield frozen


def user_with(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw-123456")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def sender(client, django_user_model):
    user = user_with(django_user_model, "sender", "send_messages", "view_history")
    client.force_login(user)
    return user


@pytest.fixture
def holder(client, django_user_model):
    user = user_with(django_user_model, "holder", "view_history", "hold_automated")
    client.force_login(user)
    return user


def manual(user, *, at: dt.datetime | None = None, clients: int = 2) -> Broadcast:
    for i in range(clients):
        make_client(first_name=f"Ana{i}", last_name="Lopez")
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    return broadcast_create(
        message_type=ad_hoc, channels=["sms"], user=user, description="Office closed", broadcast_at=at
    ).broadcast


def automated(day: dt.date, *, rows: int = 3, status: str = Status.SCHEDULED) -> Broadcast:
    mt = MessageType.objects.get(code="client-upcoming-appointment")
    due = dt.datetime.combine(day, dt.time(9, 0), tzinfo=ZONE)
    broadcast = Broadcast.objects.create(
        message_type=mt,
        description=f"Automated: {mt.name}",
        start_date=day,
        end_date=day,
        broadcast_at=due,
        channels=["sms"],
        automated=True,
        idempotency_key=f"auto:{mt.code}:{day}",
    )
    for i in range(rows):
        client = make_client(first_name=f"Rem{i}", last_name=f"Inder{day.day}")
        Delivery.objects.create(
            broadcast=broadcast,
            message_type=mt,
            channel="sms",
            client=client,
            recipient_name=f"Inder{day.day}, Rem{i}",
            address="+15555550100",
            status=status,
            next_attempt_at=due + dt.timedelta(minutes=i),
        )
    return broadcast


# --- The list ---------------------------------------------------------------------------------------


def test_lists_unfinished_manual_broadcasts_and_waiting_automated_groups_only(sender):
    future = manual(sender, at=NOW + dt.timedelta(days=2))
    done = manual(sender, clients=1)
    Delivery.objects.filter(broadcast=done).update(status=Status.DELIVERED)
    cancelled = manual(sender, at=NOW + dt.timedelta(days=1), clients=1)
    broadcast_cancel(broadcast=cancelled, user=sender, reason="typo")
    old_sent = manual(sender, at=None, clients=1)
    Broadcast.objects.filter(pk=old_sent.pk).update(broadcast_at=NOW - dt.timedelta(days=3))
    Delivery.objects.filter(broadcast=old_sent).update(status=Status.SENT)
    tomorrow = automated(NOW.date() + dt.timedelta(days=1))
    gone = automated(NOW.date(), rows=1, status=Status.DELIVERED)

    page = sched.scheduled_page()

    assert [r.broadcast.pk for r in page.broadcasts] == [future.pk]
    row = page.broadcasts[0]
    assert row.counts.queued == 2 and not row.running and row.may_reschedule
    assert [(g.broadcast.pk, g.waiting, g.held) for g in page.groups] == [(tomorrow.pk, 3, 0)]
    assert gone.pk not in [g.broadcast.pk for g in page.groups]


def test_a_running_broadcast_counts_by_state_and_polls(client, sender):
    b = manual(sender, clients=3)
    first = Delivery.objects.filter(broadcast=b).order_by("pk")
    Delivery.objects.filter(pk=first[0].pk).update(status=Status.DELIVERED)
    Delivery.objects.filter(pk=first[1].pk).update(status=Status.SENDING)
    row = sched.scheduled_page().broadcasts[0]
    assert row.running and row.counts.delivered == 1 and row.counts.sending == 1 and row.counts.queued == 1
    assert row.counts.done_percent == 33 and not row.may_reschedule

    page = client.get(reverse("messaging:scheduled")).content.decode()
    assert 'hx-trigger="every 2s"' in page and "X-Background-Poll" in page
    since = int(clock.now().timestamp())
    card = client.get(reverse("messaging:scheduled-card", args=[b.pk]), {"since": since}, HTTP_HX_REQUEST="true")
    assert card.status_code == 200 and 'hx-trigger="every 2s"' in card.content.decode()
    assert f'id="counts-{b.pk}"' in card.content.decode() and "<form" not in card.content.decode()  # forms stay
    stale = client.get(reverse("messaging:scheduled-card", args=[b.pk]), {"since": since - 16 * 60})
    assert "every 2s" not in stale.content.decode() and "stopped updating" in stale.content.decode()
    assert (
        "every 2s" not in client.get(reverse("messaging:scheduled-card", args=[b.pk]), {"since": "x"}).content.decode()
    )


def test_page_shows_type_channels_creator_and_clinic_time(client, sender):
    manual(sender, at=NOW + dt.timedelta(days=1, hours=2))
    html = client.get(reverse("messaging:scheduled")).content.decode()
    assert "Ad hoc" in html or "ad hoc" in html.lower()
    assert "Text (SMS)" in html and "sender" in html
    assert "Tue Dec 8, 2026, 12:00 PM" in html and "clinic time" in html


def test_page_query_count_does_not_grow_with_broadcasts(client, sender, django_assert_max_num_queries):
    for i in range(4):
        manual(sender, at=NOW + dt.timedelta(days=i + 1), clients=1)
        automated(NOW.date() + dt.timedelta(days=i + 1), rows=2)
    with django_assert_max_num_queries(11):  # 10, and the provider-delay banner's one
        assert client.get(reverse("messaging:scheduled")).status_code == 200


def test_the_status_range_is_the_unfinished_statuses(sender):
    low, high = sched.UNFINISHED_RANGE
    assert {s for s in Status.values if low <= s < high} == set(sched.UNFINISHED)
    b = manual(sender, clients=1)
    one = Delivery.objects.get(broadcast=b)
    for status in Status.values:  # the database's collation agrees
        Delivery.objects.filter(pk=one.pk).update(status=status)
        listed = b.pk in [r.broadcast.pk for r in sched.scheduled_page().broadcasts]
        assert listed == (status in sched.UNFINISHED or status == Status.SENT), status


# --- Cancel -----------------------------------------------------------------------------------------


def test_cancel_needs_a_reason_and_records_it(client, sender):
    b = manual(sender, at=NOW + dt.timedelta(days=1))
    url = reverse("messaging:scheduled-cancel", args=[b.pk])
    missing = client.post(url, {"reason": "   "})
    assert missing.status_code == 400 and "Say why it is cancelled" in missing.content.decode()
    assert Broadcast.objects.get(pk=b.pk).state == Broadcast.State.ACTIVE

    assert client.post(url, {"reason": "Clinic open after all"}).status_code == 302
    b.refresh_from_db()
    assert b.state == Broadcast.State.CANCELLED and b.cancelled_by == sender
    assert b.cancelled_at == clock.now() and b.cancel_reason == "Clinic open after all"
    assert set(Delivery.objects.filter(broadcast=b).values_list("status", flat=True)) == {Status.CANCELLED}
    reason = Delivery.objects.filter(broadcast=b).first().status_reason
    assert reason == "Cancelled by sender: Clinic open after all"
    assert "Clinic open after all" in LogEntry.objects.get(object_id=str(b.pk)).change_message
    assert b.pk not in [r.broadcast.pk for r in sched.scheduled_page().broadcasts]


def test_progress_box_cancel_without_a_reason_still_works(client, sender):
    b = manual(sender, at=NOW + dt.timedelta(days=1))
    assert client.post(reverse("messaging:broadcast-cancel", args=[b.pk])).status_code == 200
    b.refresh_from_db()
    assert b.state == Broadcast.State.CANCELLED and b.cancelled_by == sender and b.cancel_reason == ""


def test_someone_elses_broadcast_needs_cancel_any(client, sender, django_user_model):
    other = user_with(django_user_model, "other", "send_messages")
    b = manual(other, at=NOW + dt.timedelta(days=1))
    assert client.post(reverse("messaging:scheduled-cancel", args=[b.pk]), {"reason": "x"}).status_code == 403
    at = (NOW + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(reverse("messaging:scheduled-reschedule", args=[b.pk]), {"broadcast_at": at}).status_code == 403
    sender.user_permissions.add(Permission.objects.get(codename="cancel_any_broadcast"))
    client.force_login(django_user_model.objects.get(pk=sender.pk))
    assert client.post(reverse("messaging:scheduled-cancel", args=[b.pk]), {"reason": "x"}).status_code == 302


# --- Reschedule -------------------------------------------------------------------------------------


def test_reschedule_moves_the_queued_deliveries(client, sender):
    b = manual(sender, at=NOW + dt.timedelta(days=1))
    new = dt.datetime(2026, 12, 10, 14, 30, tzinfo=ZONE)
    response = client.post(reverse("messaging:scheduled-reschedule", args=[b.pk]), {"broadcast_at": "2026-12-10T14:30"})
    assert response.status_code == 302
    b.refresh_from_db()
    assert b.broadcast_at == new
    assert set(Delivery.objects.filter(broadcast=b).values_list("next_attempt_at", flat=True)) == {new}
    assert "Rescheduled from 2026-12-08 10:00 EST to 2026-12-10 14:30 EST" in LogEntry.objects.get().change_message


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "Choose the new date and time."),
        ("not a date", "Enter a date and time."),
        ("2026-12-07T09:00", "That time has passed."),
        ("2027-12-08T10:00", "more than a year ahead"),
        ("2026-12-08T22:30", "Text (SMS) messages go out only between 8:00 AM and 9:00 PM"),
        ("2026-12-08T07:59", "go out only between"),
    ],
)
def test_reschedule_form_errors(client, sender, value, error):
    b = manual(sender, at=NOW + dt.timedelta(days=1))
    response = client.post(reverse("messaging:scheduled-reschedule", args=[b.pk]), {"broadcast_at": value})
    assert response.status_code == 400 and error in response.content.decode()
    assert Broadcast.objects.get(pk=b.pk).broadcast_at == NOW + dt.timedelta(days=1)


def test_reschedule_refused_once_sending_started(client, sender):
    b = manual(sender, at=NOW + dt.timedelta(hours=1))
    Delivery.objects.filter(pk=Delivery.objects.filter(broadcast=b).first().pk).update(status=Status.SENT)
    with pytest.raises(sched.ActionRefused, match="Sending has started"):
        sched.broadcast_reschedule(broadcast=b, user=sender, at=NOW + dt.timedelta(days=1))
    assert not Delivery.objects.filter(broadcast=b, next_attempt_at=NOW + dt.timedelta(days=1)).exists()  # rolled back
    response = client.post(reverse("messaging:scheduled-reschedule", args=[b.pk]), {"broadcast_at": "2026-12-09T10:00"})
    assert response.status_code == 302
    assert "Sending has started" in client.get(response["Location"]).content.decode()


def test_year_limit_on_29_february():
    assert sched.a_year_after(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


# --- Hold and release -------------------------------------------------------------------------------


def test_holding_a_group_keeps_it_from_the_release_and_the_sweeper(client, holder, _frozen):
    group = automated(NOW.date(), rows=3)
    response = client.post(reverse("messaging:scheduled-hold"), {"group": group.pk, "reason": "Snow day"})
    assert response.status_code == 302
    holds = DeliveryHold.objects.order_by("delivery_id")
    assert [h.due_at for h in holds] == [dt.datetime(2026, 12, 7, 9, i, tzinfo=ZONE) for i in range(3)]
    assert {h.held_by for h in holds} == {holder} and {h.reason for h in holds} == {"Snow day"}
    assert not Delivery.objects.filter(broadcast=group, next_attempt_at__isnull=False).exists()
    assert "Held automated 3 messages: Snow day" in LogEntry.objects.get().change_message

    _frozen.advance(hours=3)
    assert release_due(ids=None) == {}  # nothing due: held rows have no next_attempt_at
    Delivery.objects.filter(broadcast=group).update(status=Status.QUEUED)  # held after its release
    assert claim_batch(channel="sms", now=clock.now(), limit=10) == []
    progress = broadcast_progress(group.pk)
    assert progress.queued == 3 and not progress.is_final  # held rows are still to go out

    page = sched.scheduled_page()
    assert [(g.waiting, g.held) for g in page.groups] == [(3, 3)]
    html = client.get(reverse("messaging:scheduled"), {"group": group.pk}).content.decode()
    assert "Held</span> by holder since" in html and "Snow day" in html
    first = Delivery.objects.filter(broadcast=group).order_by("pk").first()
    assert f'href="/messaging/history/{first.pk}/"' in html  # the detail page (holder may view History)
    log = AccessLog.objects.get()
    assert log.rows == 3 and log.object_ids == str(group.pk)


def test_release_restores_the_due_time_or_now(client, holder, _frozen):
    group = automated(NOW.date() + dt.timedelta(days=1), rows=2)
    late = automated(NOW.date(), rows=1)
    for g in (group, late):
        sched.automated_hold(user=holder, broadcast_id=g.pk)
    _frozen.advance(days=1)  # 10 AM the next day: late's 9 AM has passed, group's 9:00 / 9:01 too
    _frozen.set(dt.datetime(2026, 12, 8, 8, 0, tzinfo=ZONE))
    one = Delivery.objects.filter(broadcast=group).order_by("pk").first()
    response = client.post(reverse("messaging:scheduled-release"), {"group": group.pk, "delivery": one.pk})
    assert response.status_code == 302 and f"?group={group.pk}" in response["Location"]
    one.refresh_from_db()
    assert one.next_attempt_at == dt.datetime(2026, 12, 8, 9, 0, tzinfo=ZONE)
    assert DeliveryHold.objects.filter(delivery__broadcast=group).count() == 1
    assert client.post(reverse("messaging:scheduled-release"), {"group": late.pk}).status_code == 302
    assert Delivery.objects.get(broadcast=late).next_attempt_at == clock.now()
    assert not DeliveryHold.objects.filter(delivery__broadcast=late).exists()


def test_a_single_hold_and_a_manual_broadcast_is_not_a_group(client, holder, django_user_model):
    group = automated(NOW.date() + dt.timedelta(days=1), rows=2)
    one = Delivery.objects.filter(broadcast=group).first()
    client.post(reverse("messaging:scheduled-hold"), {"group": group.pk, "delivery": one.pk})
    assert list(DeliveryHold.objects.values_list("delivery_id", flat=True)) == [one.pk]
    b = manual(django_user_model.objects.create_user("x"), at=NOW + dt.timedelta(days=1))
    assert client.post(reverse("messaging:scheduled-hold"), {"group": b.pk}).status_code == 404
    assert client.post(reverse("messaging:scheduled-hold"), {"group": "abc"}).status_code == 400
    assert client.post(reverse("messaging:scheduled-hold"), {}).status_code == 400


def test_a_held_row_cancelled_meanwhile_is_not_revived(holder):
    group = automated(NOW.date() + dt.timedelta(days=1), rows=1)
    sched.automated_hold(user=holder, broadcast_id=group.pk)
    Delivery.objects.filter(broadcast=group).update(status=Status.CANCELLED)
    assert sched.automated_release(user=holder, broadcast_id=group.pk) == 0
    assert Delivery.objects.get(broadcast=group).next_attempt_at is None
    assert not DeliveryHold.objects.exists()


# --- Permissions ------------------------------------------------------------------------------------


def _actions(b: Broadcast, group: Broadcast) -> list[tuple[str, str, dict[str, object]]]:
    return [
        ("post", reverse("messaging:scheduled-cancel", args=[b.pk]), {"reason": "x"}),
        ("post", reverse("messaging:scheduled-reschedule", args=[b.pk]), {"broadcast_at": "2026-12-09T10:00"}),
        ("post", reverse("messaging:scheduled-hold"), {"group": group.pk}),
        ("post", reverse("messaging:scheduled-release"), {"group": group.pk}),
    ]


def test_page_needs_send_or_history(client, django_user_model):
    url = reverse("messaging:scheduled")
    assert client.get(url).status_code == 302  # login
    client.force_login(user_with(django_user_model, "nobody"))
    assert client.get(url).status_code == 403
    b = manual(None, at=NOW + dt.timedelta(days=1))
    assert client.get(reverse("messaging:scheduled-card", args=[b.pk])).status_code == 403
    client.force_login(user_with(django_user_model, "viewer", "view_history"))
    html = client.get(url).content.decode()
    assert "Cancel…" not in html and "Hold all" not in html and f"Broadcast #{b.pk}" in html


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_every_action_is_refused_without_its_permission(client, django_user_model, which):
    """Cancel and Reschedule need send_messages (403 for a viewer); Hold and Release need hold_automated."""
    viewer = user_with(django_user_model, "viewer", "view_history")
    b = manual(viewer, at=NOW + dt.timedelta(days=1))
    group = automated(NOW.date() + dt.timedelta(days=1))
    sched.automated_hold(user=viewer, broadcast_id=group.pk)
    client.force_login(viewer if which < 2 else user_with(django_user_model, "sender2", "send_messages"))
    method, url, data = _actions(b, group)[which]
    assert getattr(client, method)(url, data).status_code == 403
    assert client.get(url).status_code in (403, 405)
    assert Broadcast.objects.get(pk=b.pk).state == Broadcast.State.ACTIVE
    assert DeliveryHold.objects.count() == 3


def test_actions_need_csrf(django_user_model):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    user = user_with(django_user_model, "sender", "send_messages", "hold_automated")
    csrf_client.force_login(user)
    b = manual(user, at=NOW + dt.timedelta(days=1))
    group = automated(NOW.date() + dt.timedelta(days=1))
    for method, url, data in _actions(b, group):
        assert getattr(csrf_client, method)(url, data).status_code == 403


def test_a_hold_left_over_by_a_revived_row_holds_nothing(holder):
    group = automated(NOW.date() + dt.timedelta(days=1), rows=1)
    sched.automated_hold(user=holder, broadcast_id=group.pk)
    due = NOW + dt.timedelta(days=1)
    Delivery.objects.filter(broadcast=group).update(next_attempt_at=due)  # the planner revived it
    assert [(g.waiting, g.held) for g in sched.scheduled_page().groups] == [(1, 0)]
    assert sched.hold_of(sched.group_messages(group.pk)[0]) is None
    assert sched.automated_hold(user=holder, broadcast_id=group.pk) == 1  # it can be held again
    assert DeliveryHold.objects.get().due_at == due


def test_demo_command_adds_a_broadcast_dated_ahead(settings):
    from django.core.management import call_command

    settings.DEMO_MODE = True
    make_client()
    call_command("seed_demo_scheduled")
    call_command("seed_demo_scheduled")  # idempotent
    rows = sched.scheduled_page().broadcasts
    assert len(rows) == 1 and not rows[0].running and rows[0].broadcast.broadcast_at > clock.now()
    assert rows[0].broadcast.broadcast_at.astimezone(ZONE).weekday() < 5
