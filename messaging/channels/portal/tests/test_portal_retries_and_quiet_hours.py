"""The portal channel under the delivery rules every channel follows (README › Delivery rules).

* Retries: a portal delivery interrupted by a transient fault (the database connection dropped after
  the notice was written, before the write-back) is restarted after ``DISPATCH_RESTART_GRACE_SECONDS``
  and published once, announced once; a notice that soft-bounces is resent as its own channel's
  settings say (e-mail: 256 resends, 258 minutes apart).
* Quiet hours: a portal message sent at 23:30 is in the inbox at once (the portal has no window); its
  SMS notice waits for the window to open (setting 274) and then goes out, with no PHI.

The real dispatcher sends through the local simulators; time is the controlled clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError

from clients.models import Client, ContactMethod, PortalAccount
from clients.tests.factories import make_client
from core import clock
from messaging import dispatch
from messaging.broadcasts import broadcast_create
from messaging.channels.portal import transport as portal_transport
from messaging.models import Attempt, Delivery, MessageType, Status
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    refreshed,
    smtp_sim,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "smtp_sim", "twilio_sim"]

pytestmark = pytest.mark.django_db

NOTICE = "portal-message-notice"
SECRET = "Your lab results are ready: A1C 6.1"
MAILBOX_FULL = "mailbox-full@example.org"  # smtp_sim: 452 4.2.2 Mailbox full at RCPT, every time


@pytest.fixture(autouse=True)
def _portal_on() -> None:
    setting_update(number=620, value="yes")
    clear_cache()


def with_account(client: Client, username: str) -> None:
    user = get_user_model().objects.create_user(username, password="Portal-pass-123!", email="")
    PortalAccount.objects.create(client=client, user=user)


def send_portal_message(client: Client) -> Delivery:
    result = broadcast_create(
        message_type=MessageType.objects.get(code="ad-hoc-clients"), channels=["portal"], description=SECRET
    )
    return Delivery.objects.get(broadcast=result.broadcast, client=client)


def drain(now: dt.datetime) -> None:
    """Restart what a worker left unfinished, then send everything due (a few sweeps)."""
    dispatch.restart_unfinished(now=now)
    for _ in range(5):
        claims = dispatch.claim_due(now=now)
        if not claims:
            return
        for claim in claims:
            dispatch.send_claimed(claim.ids, claim.token)


def notices(client: Client) -> list[Delivery]:
    return list(Delivery.objects.filter(client=client, message_type__code=NOTICE).order_by("id"))


# --- Retries -----------------------------------------------------------------------------------------


def test_a_transient_fault_while_publishing_is_restarted_after_the_grace_period_and_announced_once(
    daytime: Any, twilio_sim: Any, settings: Any
) -> None:
    settings.DISPATCH_RESTART_GRACE_SECONDS = 60
    patient = make_client(preferred=ContactMethod.TEXT)
    with_account(patient, "rosa")
    portal = send_portal_message(patient)
    real_announce = portal_transport.announce

    def announce_then_lose_the_connection(delivery: Delivery) -> list[str]:
        real_announce(delivery)  # the notice is written...
        raise OperationalError("server closed the connection unexpectedly")  # ...the write-back never happens

    with mock.patch.object(portal_transport, "announce", side_effect=announce_then_lose_the_connection):
        drain(daytime.now())
    portal = refreshed(portal)
    assert portal.status == Status.SENDING and not portal.is_final  # not failed: its outcome is unknown
    assert Attempt.objects.get(delivery=portal).outcome == "unknown"

    daytime.advance(seconds=30)  # within the grace period: left alone
    drain(daytime.now())
    assert refreshed(portal).status == Status.SENDING

    daytime.advance(seconds=31)
    drain(daytime.now())  # restarted (the portal always restarts), then sent again
    portal = refreshed(portal)
    assert (portal.status, portal.provider_message_id) == (Status.DELIVERED, f"portal-{portal.pk}")
    attempts = Attempt.objects.filter(delivery=portal).order_by("number")
    assert [(a.kind, a.outcome) for a in attempts] == [("first", "unknown"), ("restart", "accepted")]
    [notice] = notices(patient)  # announced once although published twice
    assert notice.channel == "sms" and notice.status in (Status.SENT, Status.DELIVERED)


def test_a_soft_bounced_email_notice_is_resent_per_256_and_258_and_the_inbox_copy_stays(
    daytime: Any, smtp_sim: Any, settings: Any
) -> None:
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "email": 0}
    setting_update(number=256, value="1", user=None)
    setting_update(number=258, value="30", user=None)
    patient = make_client(preferred=ContactMethod.EMAIL, email=MAILBOX_FULL)
    with_account(patient, "rosa")
    portal = send_portal_message(patient)
    drain(daytime.now())
    [notice] = notices(patient)
    notice = refreshed(notice)
    assert notice.channel == "email" and notice.status == Status.QUEUED  # 452: one resend left
    assert notice.next_attempt_at == daytime.now() + dt.timedelta(minutes=30)

    daytime.set(notice.next_attempt_at)
    drain(daytime.now())
    notice = refreshed(notice)
    assert (notice.status, notice.hard_bounce, notice.bounce_category) == (Status.FAILED, False, "Quota-Issues")
    assert notice.resend_count == 1
    assert sum(1 for r in smtp_sim.received() if r.get("kind") == "rcpt_refused") == 2
    assert refreshed(portal).status == Status.DELIVERED  # the message itself is in the inbox


# --- Quiet hours -------------------------------------------------------------------------------------


def test_a_portal_message_at_2330_is_published_at_once_and_its_sms_notice_waits_for_the_window(
    twilio_sim: Any,
) -> None:
    night = dt.datetime(2026, 3, 10, 23, 30, tzinfo=clock.clinic_zone())
    with clock.freeze(night) as frozen:
        patient = make_client(preferred=ContactMethod.TEXT)
        with_account(patient, "nightowl")
        portal = send_portal_message(patient)
        drain(frozen.now())
        portal = refreshed(portal)
        assert portal.status == Status.DELIVERED and portal.sent_at == frozen.now()
        [notice] = notices(patient)
        assert (notice.channel, notice.status) == ("sms", Status.QUEUED)
        assert notice.status_reason.startswith("Outside the sending window (08:00–21:00")
        opens = dt.datetime(2026, 3, 11, 8, 0, tzinfo=clock.clinic_zone())  # setting 274, next morning
        assert notice.next_attempt_at == opens
        assert twilio_sim.received() == []  # nothing went out at night

        frozen.set(opens - dt.timedelta(minutes=1))
        drain(frozen.now())
        assert refreshed(notice).status == Status.QUEUED

        frozen.set(opens)
        drain(frozen.now())
        notice = refreshed(notice)
        assert notice.status in (Status.SENT, Status.DELIVERED) and notice.sent_at == opens
    [text] = [r for r in twilio_sim.received() if r.get("kind") == "sms"]
    assert text["to"] == str(patient.cell_phone) and "/portal/" in text["body"]
    assert "A1C" not in text["body"] and patient.first_name not in text["body"]
