"""Repeated soft failures pause an address (README › Delivery rules › Retries): counted per message
that ended failed, configurable in the admin, shown as its own state with the soft category (never
DNS or Hard), listed with its expiry on the Do-Not-Send screen, and the message goes out when the
pause ends."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from bounces.models import DnsReason, DoNotSendEntry, SoftBounce, SoftFailurePolicy
from clients.tests.factories import make_client
from core import clock
from messaging import dispatch
from messaging.models import Delivery, Status
from messaging.services_settings import setting_update
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, daytime, make_delivery, smtp_sim
from messaging.tests.test_retry_grid import MAILBOX_FULL, drive

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "smtp_sim"]

pytestmark = pytest.mark.django_db


def send_due(now: dt.datetime) -> None:
    for claim in dispatch.claim_due(now=now, channels=["email"]):
        dispatch.send_claimed(claim.ids, claim.token)


def rcpt_calls(sim: Any) -> int:
    return sum(1 for r in sim.received() if r.get("kind") == "rcpt_refused")


def history_row(http: Any, delivery: Delivery) -> str:
    page = http.get(reverse("messaging:history")).content.decode()
    match = re.search(rf'<tr data-delivery="{delivery.pk}".*?</tr>', page, re.S)
    assert match is not None, page
    return match.group(0)


@pytest.fixture
def failed_three_times(daytime: clock.ControlledClock, smtp_sim: Any) -> Any:
    """Three messages to an always-full mailbox, each sent twice (256 = 1), ended failed."""
    setting_update(number=256, value="1", user=None)
    setting_update(number=258, value="10", user=None)
    client = make_client(email=MAILBOX_FULL)
    for _ in range(3):
        drive(make_delivery(channel="email", client=client), daytime)
    return client


def test_three_failed_messages_are_three_failures_and_pause_the_address(failed_three_times, smtp_sim):
    assert rcpt_calls(smtp_sim) == 6  # 3 messages × 2 sends
    assert SoftBounce.objects.count() == 3  # not 6: a resend is not a new bounce
    pause = DoNotSendEntry.objects.get()
    assert (pause.reason, pause.category, pause.active) == (DnsReason.SOFT_BOUNCES, "Quota-Issues", True)
    assert pause.expires_at == clock.now() + dt.timedelta(days=3)
    for delivery in Delivery.objects.all():  # the messages themselves: failed soft, never DNS / Hard
        assert (delivery.status, delivery.bounce_category, delivery.hard_bounce) == (
            Status.FAILED,
            "Quota-Issues",
            False,
        )


def test_a_message_to_a_paused_address_waits_and_shows_why(failed_three_times, smtp_sim, daytime, client, staff_user):
    pause = DoNotSendEntry.objects.get()
    fourth = make_delivery(channel="email", client=failed_three_times)
    send_due(daytime.now())
    fourth.refresh_from_db()
    assert rcpt_calls(smtp_sim) == 6  # no provider call
    local = timezone.localtime(pause.expires_at)
    expected = f"Paused after repeated soft failures until {local.day} {local:%b %H:%M} (Quota-Issues)"
    assert (fourth.status, fourth.status_reason, fourth.next_attempt_at) == (
        Status.QUEUED,
        expected,
        pause.expires_at,
    )
    assert (fourth.bounce_category, fourth.hard_bounce) == ("Quota-Issues", False)

    client.force_login(staff_user)
    row = history_row(client, fourth)
    assert ">Paused<" in row and "Quota-Issues" in row and ">Soft<" in row
    assert "DNS" not in row and ">Hard<" not in row and ">Suppressed<" not in row

    listing = client.get(reverse("bounces:dns-list")).content.decode()
    entry_row = re.search(rf'<tr id="dns-entry-{pause.pk}".*?</tr>', listing, re.S).group(0)
    assert "Paused after repeated soft failures" in entry_row and "Quota-Issues" in entry_row
    assert f"Paused until {local.day} {local:%b %H:%M}" in entry_row
    assert local.strftime("%Y-%m-%d %H:%M") in entry_row  # the Expires column
    assert ">Active<" not in entry_row and ">DNS<" not in entry_row
    assert "3 messages to the address ended failed" in listing  # the policy in force

    daytime.set(pause.expires_at + dt.timedelta(seconds=1))  # the pause is over: it goes out
    send_due(daytime.now())
    assert rcpt_calls(smtp_sim) == 7


def test_an_expired_pause_holds_nothing_back(failed_three_times, smtp_sim, daytime):
    DoNotSendEntry.objects.update(expires_at=daytime.now() - dt.timedelta(seconds=1))
    make_delivery(channel="email", client=failed_three_times)
    send_due(daytime.now())
    assert rcpt_calls(smtp_sim) == 6 + 1


def test_the_pause_policy_is_edited_in_the_admin_and_the_change_is_kept(admin_client, settings):
    settings.SOFT_BOUNCE_LIMIT = 4
    changelist = reverse("admin:bounces_softfailurepolicy_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 302 and response["Location"].endswith("/add/")
    form = admin_client.get(response["Location"]).content.decode()
    assert re.search(r'name="failed_messages"[^>]*value="4"', form)  # the environment's value to start from
    response = admin_client.post(response["Location"], {"failed_messages": 4, "window_days": 7, "pause_days": 3})
    assert response.status_code == 302
    row = SoftFailurePolicy.objects.get()
    assert admin_client.get(changelist)["Location"].endswith(f"/{row.pk}/change/")
    change = reverse("admin:bounces_softfailurepolicy_change", args=[row.pk])
    response = admin_client.post(change, {"failed_messages": 2, "window_days": 14, "pause_days": 5})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.failed_messages, row.window_days, row.pause_days, row.updated_by.username) == (2, 14, 5, "admin")
    message = LogEntry.objects.filter(object_id=str(row.pk)).order_by("-action_time").first().get_change_message()
    assert "Failed messages before a pause: 4 → 2" in message and "Pause for days: 3 → 5" in message
    invalid = admin_client.post(change, {"failed_messages": 2, "window_days": 0, "pause_days": 5})
    assert invalid.status_code == 200 and "greater than or equal to 1" in invalid.content.decode()
