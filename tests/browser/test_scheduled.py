"""Issue 14 §1 in a browser: the Scheduled tab lists a future broadcast and waiting automated messages;
staff reschedule it, cancel it with a reason, and hold and release the automated messages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from clients.tests.factories import make_client
from messaging.broadcasts import broadcast_create
from messaging.models import Broadcast, Delivery, DeliveryHold, MessageType, Status
from tests.browser.test_accessibility import serious
from tests.browser.test_phone_widths import OVERFLOW

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)


def waiting_reminders(day: dt.date) -> Broadcast:
    mt = MessageType.objects.get(code="client-upcoming-appointment")
    due = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    group = Broadcast.objects.create(
        message_type=mt, start_date=day, end_date=day, broadcast_at=due, channels=["sms"], automated=True
    )
    for i, name in enumerate(["Alvarez, Maria", "Chen, David", "Kim, Grace"]):
        Delivery.objects.create(
            broadcast=group,
            message_type=mt,
            channel="sms",
            recipient_name=name,
            address=f"+1617555100{i}",
            status=Status.SCHEDULED,
            next_attempt_at=due + dt.timedelta(minutes=i),
        )
    return group


def test_scheduled_tab_reschedule_cancel_hold_and_release(logged_in_page, live_server, staff_user):
    page = logged_in_page
    staff_user.user_permissions.add(Permission.objects.get(codename="hold_automated"))
    make_client(first_name="Ana", last_name="Lopez")
    make_client(first_name="Ben", last_name="Ortiz")
    day = timezone.localdate() + dt.timedelta(days=2)
    at = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    broadcast = broadcast_create(
        message_type=ad_hoc, channels=["sms"], user=staff_user, description="Office closed Friday", broadcast_at=at
    ).broadcast
    group = waiting_reminders(day)

    page.goto(f"{live_server.url}/messaging/history/")
    page.get_by_role("link", name="Scheduled").click()
    card = page.locator(f"#broadcast-{broadcast.pk}")
    expect(card).to_contain_text("Office closed Friday")
    expect(card).to_contain_text("Text (SMS)")
    expect(card).to_contain_text("staff")
    expect(card.locator("[data-count=queued] dd")).to_have_text("2")
    expect(page.locator(f"#group-{group.pk} [data-count=waiting]")).to_have_text("3")

    # Reschedule: a time outside the messaging hours is refused with a clear error, then a good one moves it.
    card.get_by_text("Reschedule").click()
    card.get_by_label("New date and time").fill(f"{day + dt.timedelta(days=1)}T23:00")
    card.get_by_role("button", name="Move to this time").click()
    card = page.locator(f"#broadcast-{broadcast.pk}")
    expect(card.locator(".field-error")).to_contain_text("go out only between")
    card.get_by_label("New date and time").fill(f"{day + dt.timedelta(days=1)}T11:30")
    card.get_by_role("button", name="Move to this time").click()
    expect(page.locator("#toasts")).to_contain_text("now goes out")
    moved = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(11, 30)))
    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("next_attempt_at", flat=True)) == {moved}

    # Cancel: the reason is required, and kept.
    card = page.locator(f"#broadcast-{broadcast.pk}")
    card.get_by_text("Cancel…").click()
    card.get_by_role("button", name="Cancel the 2 messages not sent").click()
    card = page.locator(f"#broadcast-{broadcast.pk}")
    expect(card.locator(".field-error")).to_contain_text("Say why")
    card.get_by_label("Reason for cancelling").fill("Clinic stays open")
    card.get_by_role("button", name="Cancel the 2 messages not sent").click()
    expect(page.locator("#toasts")).to_contain_text("cancelled")
    expect(page.locator(f"#broadcast-{broadcast.pk}")).to_have_count(0)
    broadcast.refresh_from_db()
    assert broadcast.cancel_reason == "Clinic stays open" and broadcast.cancelled_by == staff_user

    # Hold the whole group, see who held them, release one, then the rest.
    page.locator(f"#group-{group.pk}").get_by_role("button", name="Hold all").click()
    expect(page.locator(f"#group-{group.pk} [data-count=held]")).to_have_text("3")
    page.locator(f"#group-{group.pk}").get_by_role("link", name="Show messages").click()
    listed = page.locator(f"#group-{group.pk}-messages")
    expect(listed).to_contain_text("Held by staff since")
    assert serious(page) == []  # axe on the filled page: cards, forms, the group and its messages
    listed.get_by_role("button", name="Release the message to Chen, David (Text (SMS))").click()
    expect(page.locator(f"#group-{group.pk} [data-count=held]")).to_have_text("2")
    assert DeliveryHold.objects.count() == 2
    page.locator(f"#group-{group.pk}").get_by_role("button", name="Release held").click()
    expect(page.locator(f"#group-{group.pk} [data-count=held]")).to_have_text("0")
    assert not Delivery.objects.filter(broadcast=group, next_attempt_at__isnull=True).exists()

    # It fits a phone.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/messaging/scheduled/?group={group.pk}")
    fit = page.evaluate(OVERFLOW)
    assert fit["scroll"] <= 390 and fit["out"] == [], fit


def test_a_sending_broadcast_updates_its_progress_by_itself(logged_in_page, live_server, staff_user):
    page = logged_in_page
    for name in ("Ana", "Ben", "Cy"):
        make_client(first_name=name, last_name="Lopez")
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    broadcast = broadcast_create(
        message_type=ad_hoc, channels=["sms"], user=staff_user, description="Parking lot closed today"
    ).broadcast
    page.goto(f"{live_server.url}/messaging/scheduled/")
    counts = page.locator(f"#counts-{broadcast.pk}")
    expect(counts.locator("[data-count=delivered] dd")).to_have_text("0")
    page.get_by_text("Cancel…").click()
    page.get_by_label("Reason for cancelling").fill("typing while it polls")
    first = Delivery.objects.filter(broadcast=broadcast).order_by("pk").first()
    Delivery.objects.filter(pk=first.pk).update(status=Status.DELIVERED)
    expect(counts.locator("[data-count=delivered] dd")).to_have_text("1", timeout=8000)
    expect(page.locator(f"#counts-{broadcast.pk} [role=progressbar]")).to_have_attribute("aria-valuenow", "33")
    expect(page.get_by_label("Reason for cancelling")).to_have_value("typing while it polls")  # not replaced
