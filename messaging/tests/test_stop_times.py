"""Stop times (settings 270, 272, 273) and the start of day, in the recipient's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from clients.tests.factories import make_client
from core import clock
from messaging import dispatch
from messaging.models import Attempt, Status
from messaging.services_settings import setting_update
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, make_delivery, refreshed, twilio_sim

__all__ = ["_fresh_rate_limits", "_public_base_url", "twilio_sim"]

NY = zoneinfo.ZoneInfo("America/New_York")
LA = zoneinfo.ZoneInfo("America/Los_Angeles")


def at(zone: zoneinfo.ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (at(NY, 2025, 6, 3, 20, 59, 59), None),
        (at(NY, 2025, 6, 3, 21, 0), at(NY, 2025, 6, 4, 8, 0)),
        (at(NY, 2025, 6, 3, 23, 30), at(NY, 2025, 6, 4, 8, 0)),
        (at(NY, 2025, 6, 3, 7, 59), at(NY, 2025, 6, 3, 8, 0)),
        (at(NY, 2025, 6, 3, 8, 0), None),
        # The night before daylight saving time starts: the next 08:00 is EDT, not EST.
        (at(NY, 2025, 3, 8, 22, 0), at(NY, 2025, 3, 9, 8, 0)),
    ],
)
def test_sms_window_in_the_recipients_zone(local, expected):
    got = dispatch.next_window_start("sms", NY, local)
    assert got == (expected.astimezone(dt.UTC) if expected else None)


@pytest.mark.django_db
def test_each_channel_has_its_own_stop_time_and_email_has_none():
    setting_update(number=270, value="19:00", user=None)  # voice
    setting_update(number=273, value="22:00", user=None)  # fax
    moment = at(NY, 2025, 6, 3, 20, 0)
    assert dispatch.next_window_start("voice", NY, moment) == at(NY, 2025, 6, 4, 8, 0).astimezone(dt.UTC)
    assert dispatch.next_window_start("sms", NY, moment) is None
    assert dispatch.next_window_start("fax", NY, moment) is None
    assert dispatch.next_window_start("email", NY, at(NY, 2025, 6, 3, 3, 0)) is None


@pytest.mark.django_db
def test_day_start_comes_from_setting_274():
    setting_update(number=274, value="09:30", user=None)
    assert dispatch.next_window_start("sms", NY, at(NY, 2025, 6, 3, 9, 0)) == at(NY, 2025, 6, 3, 9, 30).astimezone(
        dt.UTC
    )


@pytest.mark.django_db
def test_a_window_never_runs_past_midnight():
    """A stop time at or before the start is refused; the old reading (a window across midnight)
    sent a text at 03:00."""
    with pytest.raises(ValidationError, match="later than the start of the messaging day"):
        setting_update(number=272, value="07:00", user=None)
    with pytest.raises(ValidationError, match="earlier than every stop time"):
        setting_update(number=274, value="22:00", user=None)
    assert dispatch.next_window_start("sms", NY, at(NY, 2025, 6, 3, 3, 0)) == at(NY, 2025, 6, 3, 8, 0).astimezone(
        dt.UTC
    )
    assert dispatch.next_window_start("sms", NY, at(NY, 2025, 6, 3, 23, 0)) == at(NY, 2025, 6, 4, 8, 0).astimezone(
        dt.UTC
    )


@pytest.mark.django_db
def test_the_same_instant_is_inside_for_one_zone_and_outside_for_another(twilio_sim):
    instant = at(NY, 2025, 6, 3, 21, 30)  # 18:30 in Los Angeles
    with clock.freeze(instant):
        east = make_delivery(client=make_client(time_zone="America/New_York"))
        west = make_delivery(client=make_client(time_zone="America/Los_Angeles"))
        for claim in dispatch.claim_due(now=clock.now()):
            dispatch.send_claimed(claim.ids, claim.token)
    east, west = refreshed(east), refreshed(west)
    assert west.status == Status.SENT
    assert east.status == Status.QUEUED and east.next_attempt_at == at(NY, 2025, 6, 4, 8, 0)
    assert "Outside the sending window (08:00–21:00 America/New_York)" in east.status_reason
    assert east.attempt_count == 0 and not Attempt.objects.filter(delivery=east).exists()


@pytest.mark.django_db
def test_broadcast_at_2059_sends_what_fits_and_defers_the_rest_to_the_morning(twilio_sim):
    """Five texts claimed at 20:59:58; sending takes a second each: two go out, three wait for 08:00."""
    with clock.freeze(at(NY, 2025, 6, 3, 20, 59, 58)) as frozen:
        rows = [make_delivery(client=make_client(time_zone="America/New_York")) for _ in range(5)]
        claims = dispatch.claim_due(now=frozen.now())
        claimed = [pk for claim in claims for pk in claim.ids]
        assert sorted(claimed) == sorted(r.pk for r in rows)
        token = {pk: claim.token for claim in claims for pk in claim.ids}
        for row in rows:
            dispatch.send_one(row.pk, token[row.pk])
            frozen.advance(seconds=1)
        statuses = [refreshed(r).status for r in rows]
        assert statuses == [Status.SENT, Status.SENT, Status.QUEUED, Status.QUEUED, Status.QUEUED]
        morning = at(NY, 2025, 6, 4, 8, 0)
        assert {refreshed(r).next_attempt_at for r in rows[2:]} == {morning}
        assert len([r for r in twilio_sim.received() if r.get("accepted")]) == 2

        frozen.set(morning - dt.timedelta(seconds=1))
        assert dispatch.claim_due(now=frozen.now()) == []  # nothing before the window opens
        frozen.set(morning)
        for claim in dispatch.claim_due(now=frozen.now()):
            dispatch.send_claimed(claim.ids, claim.token)
    assert [refreshed(r).status for r in rows] == [Status.SENT] * 5
    assert len([r for r in twilio_sim.received() if r.get("accepted")]) == 5


@pytest.mark.django_db
def test_staff_recipients_use_their_own_zone(django_user_model, twilio_sim):
    from clients.models import StaffProfile
    from messaging.models import Broadcast, Delivery, MessageType

    user = django_user_model.objects.create_user("nurse", first_name="Pat")
    StaffProfile.objects.create(user=user, cell_phone="+13105550123", time_zone="America/Los_Angeles")
    with clock.freeze(at(NY, 2025, 6, 3, 21, 30)):
        kind = MessageType.objects.get(code="ad-hoc-staff")
        broadcast = Broadcast.objects.create(message_type=kind, description="Staff meeting", broadcast_at=clock.now())
        delivery = Delivery.objects.create(
            broadcast=broadcast,
            message_type=kind,
            channel="sms",
            recipient_type="staff",
            user=user,
            address="+13105550123",
            next_attempt_at=clock.now(),
        )
        assert dispatch.recipient_zone(delivery) == LA
        for claim in dispatch.claim_due(now=clock.now()):
            dispatch.send_claimed(claim.ids, claim.token)
    assert refreshed(delivery).status == Status.SENT


@pytest.mark.django_db
def test_a_batch_that_waited_for_the_rate_past_the_stop_time_waits_for_the_morning(twilio_sim, monkeypatch):
    """Claimed at 20:59:59; the channel's rate held the batch and it is 21:00:01 when the slot comes:
    nothing goes out, and History says why in the same words as any message outside the window."""
    from messaging import ratelimit

    with clock.freeze(at(NY, 2025, 6, 3, 20, 59, 59)) as frozen:
        row = make_delivery(client=make_client(time_zone="America/New_York"))
        claims = dispatch.claim_due(now=frozen.now())

        def slow_slot(channel, *, count=1, **kwargs):
            frozen.advance(seconds=2)  # the sleep for the slot
            return ratelimit.Reservation(ok=True, waited=2.0)

        monkeypatch.setattr(ratelimit, "acquire", slow_slot)
        for claim in claims:
            dispatch.send_claimed(claim.ids, claim.token)
    row = refreshed(row)
    assert row.status == Status.QUEUED and row.next_attempt_at == at(NY, 2025, 6, 4, 8, 0)
    assert row.status_reason.startswith("Outside the sending window (08:00–21:00 America/New_York)")
    assert not [r for r in twilio_sim.received() if r.get("accepted")]
