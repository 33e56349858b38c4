"""Quiet hours cannot be broken: the window [start (274), stop (270/272/273)) in the recipient's zone.

Property-based: hypothesis draws a zone (daylight-saving change days included), valid settings and
an instant, and an independent oracle (a minute-by-minute walk of the recipient's wall clock)
says whether the instant is inside the window and when the window next opens. The dispatcher's
send-time check and the planner's send times must agree with it: nothing goes to a provider outside
the window, and a deferred message is due exactly at the next window start.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache
from typing import Any

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clients.models import Client
from clients.tests.factories import make_client
from core import clock
from messaging import dispatch
from messaging.automation import START, Offset, send_time
from messaging.dispatch.checks import Verdict, check_before_send
from messaging.models import Delivery, OffsetUnit, Status, SystemSetting
from messaging.services_settings import setting_update
from messaging.system_settings import get_setting
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, make_delivery, refreshed, twilio_sim

__all__ = ["_fresh_rate_limits", "_public_base_url", "twilio_sim"]

MINUTE = dt.timedelta(minutes=1)
WINDOWED = {"voice": 270, "sms": 272, "fax": 273}
# Zones whose clocks change, some by 30 minutes or at midnight, plus whatever hypothesis draws.
CHANGING = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Chatham",
    "Asia/Beirut",
    "America/St_Johns",
]
PROPERTY = hypothesis_settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def at(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))


# --- The oracle: the recipient's wall clock, minute by minute ------------------------------------------


def wall(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def inside(instant: dt.datetime, zone: zoneinfo.ZoneInfo, start: dt.time, stop: dt.time) -> bool:
    return start <= wall(instant, zone).time() < stop


def first_inside_after(now: dt.datetime, zone: zoneinfo.ZoneInfo, start: dt.time, stop: dt.time) -> dt.datetime:
    """The first instant after ``now`` inside the window. Settings are whole minutes and clocks
    change on whole minutes, so the window opens on a whole UTC minute."""
    instant = now.astimezone(dt.UTC).replace(second=0, microsecond=0) + MINUTE
    for _ in range(4 * 24 * 60):
        if inside(instant, zone, start, stop):
            return instant
        instant += MINUTE
    raise AssertionError("the window never opens")


def first_at_or_after(day: dt.date, start: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant of local ``day`` whose wall-clock time is ``start`` or later."""
    instant = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC).replace(second=0) - dt.timedelta(
        hours=3
    )
    while not (wall(instant, zone).date() == day and wall(instant, zone).time() >= start):
        instant += MINUTE
    return instant


# --- Drawing zones, instants and settings -------------------------------------------------------------


@cache
def changes_in(key: str, year: int) -> tuple[dt.datetime, ...]:
    """The instants ``key`` changes its UTC offset in ``year`` (a daily walk, then to the second)."""
    zone = zoneinfo.ZoneInfo(key)
    offset = lambda t: t.astimezone(zone).utcoffset()  # noqa: E731
    found = []
    day = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    while day.year == year:
        following = day + dt.timedelta(days=1)
        if offset(day) != offset(following):
            low, high = day, following
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            found.append(high.replace(microsecond=0))
        day = following
    return tuple(found)


# "right/…" zones count leap seconds: their clocks are not civil time and change off the minute.
civil_zones = st.timezones().filter(lambda zone: not zone.key.startswith("right/"))
zones = st.one_of(st.sampled_from(CHANGING).map(zoneinfo.ZoneInfo), civil_zones)


def minutes(moment: dt.time) -> int:
    return moment.hour * 60 + moment.minute


def as_time(count: int) -> dt.time:
    return dt.time(count // 60, count % 60)


@st.composite
def scenarios(draw: Any, zone_strategy: Any = zones) -> tuple[zoneinfo.ZoneInfo, dt.datetime, dt.time, dict]:
    """A zone, an instant in 1995-2037 and valid settings (a start of day, each channel's stop time
    later than it, whole minutes). Half the time the instant is near a change of the zone's clock,
    and then the start and stop times are often close to the wall-clock time of the change."""
    zone = draw(zone_strategy, label="zone")
    year = draw(st.integers(1995, 2037), label="year")
    changes = changes_in(zone.key, year)
    near: int | None = None
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        hours = draw(st.sampled_from([2, 36]))
        instant = change + dt.timedelta(seconds=draw(st.integers(-hours * 3600, hours * 3600)))
        near = minutes(wall(change - dt.timedelta(seconds=1), zone).time())
    else:
        instant = dt.datetime(year, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=draw(st.integers(0, 364 * 86400)))
    if draw(st.booleans()):  # exactly on a minute (where the window opens and closes), or just after
        instant = instant.replace(second=0, microsecond=0) + dt.timedelta(microseconds=draw(st.sampled_from([0, 1])))
    else:
        instant += dt.timedelta(microseconds=draw(st.integers(0, 999_999)))
    last = 23 * 60 + 59
    if near is not None and draw(st.booleans()):
        start = min(max(near + draw(st.integers(-90, 90)), 0), last - 1)
    else:
        start = draw(st.integers(0, last - 1))
    stops = {}
    for channel in WINDOWED:
        if near is not None and draw(st.booleans()):
            stops[channel] = min(max(near + draw(st.integers(-90, 90)), start + 1), last)
        else:
            stops[channel] = draw(st.integers(start + 1, last))
    return zone, instant, as_time(start), {channel: as_time(stop) for channel, stop in stops.items()}


def apply(start: dt.time, stops: dict[str, dt.time]) -> None:
    """Store the settings through the service, in an order every step of which is valid."""
    for number in WINDOWED.values():
        setting_update(number=number, value="23:59", user=None)
    setting_update(number=274, value=f"{start:%H:%M}", user=None)
    for channel, number in WINDOWED.items():
        setting_update(number=number, value=f"{stops[channel]:%H:%M}", user=None)


def unsaved_delivery(channel: str, zone: zoneinfo.ZoneInfo) -> Delivery:
    client = Client(pk=10**9, first_name="A", last_name="B", time_zone=zone.key)
    return Delivery(channel=channel, client=client, address="+16175550100")


def assert_send_time_check(channel: str, zone: zoneinfo.ZoneInfo, now: dt.datetime, window: tuple) -> None:
    """The dispatcher's check at ``now`` sends only inside the window, else defers to its next start."""
    start, stop = window
    verdict = check_before_send(unsaved_delivery(channel, zone), Verdict("send", address="+16175550100"), {}, now)
    if inside(now, zone, start, stop):
        assert verdict.action == "send", (zone.key, now, window)
    else:
        assert verdict.action == "defer", (zone.key, now, window, verdict)
        assert verdict.at == first_inside_after(now, zone, start, stop), (zone.key, now, window, verdict.at)


# --- Properties ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@PROPERTY
@given(data=st.data())
def test_the_send_time_check_never_lets_a_message_out_of_the_window(data):
    zone, now, start, stops = data.draw(scenarios(), label="scenario")
    apply(start, stops)
    for channel, stop in stops.items():
        assert_send_time_check(channel, zone, now, (start, stop))
        assert dispatch.next_window_start(channel, zone, now) == (
            None if inside(now, zone, start, stop) else first_inside_after(now, zone, start, stop)
        )
    assert dispatch.next_window_start("email", zone, now) is None


@pytest.mark.django_db
@PROPERTY
@given(data=st.data())
def test_the_planners_send_times_go_out_only_inside_the_window(data):
    """The planner's send time of an offset before an appointment, checked when it falls due."""
    zone, appointment, start, stops = data.draw(scenarios(), label="scenario")
    unit = data.draw(st.sampled_from([OffsetUnit.DAYS, OffsetUnit.HOURS, OffsetUnit.MINUTES]), label="unit")
    amount = data.draw(
        st.integers(0, {OffsetUnit.DAYS: 3, OffsetUnit.HOURS: 48, OffsetUnit.MINUTES: 180}[unit]), label="amount"
    )
    apply(start, stops)
    due = send_time(START, Offset(amount, unit), anchor=appointment, zone=zone)
    if unit == OffsetUnit.DAYS and amount == 0:  # "0 days before": the start of the messaging day
        assert due == first_at_or_after(wall(appointment, zone).date(), start, zone)
    for channel, stop in stops.items():
        assert_send_time_check(channel, zone, due, (start, stop))


# --- End to end: the sweeper, the worker and the Twilio simulator -------------------------------------

E2E_ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kolkata"]


@pytest.mark.django_db
@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_text_reaches_the_provider_outside_the_window(data, twilio_sim):
    zone, now, start, stops = data.draw(scenarios(st.sampled_from(E2E_ZONES).map(zoneinfo.ZoneInfo)), label="scenario")
    apply(start, stops)
    Delivery.objects.filter(status__in=[Status.QUEUED, Status.SCHEDULED]).update(status=Status.CANCELLED)
    calls = len(twilio_sim.received())
    with clock.freeze(now) as frozen:
        delivery = make_delivery(client=make_client(time_zone=zone.key))
        for claim in dispatch.claim_due(now=frozen.now()):
            dispatch.send_claimed(claim.ids, claim.token)
        delivery = refreshed(delivery)
        if inside(now, zone, start, stops["sms"]):
            assert delivery.status == Status.SENT, (delivery.status_reason, delivery.error_detail)
            assert len(twilio_sim.received()) == calls + 1
            return
        opens = first_inside_after(now, zone, start, stops["sms"])
        assert (delivery.status, delivery.next_attempt_at) == (Status.QUEUED, opens)
        assert len(twilio_sim.received()) == calls and delivery.attempt_count == 0
        frozen.set(opens - dt.timedelta(seconds=1))
        assert dispatch.claim_due(now=frozen.now()) == []
        frozen.set(opens)
        for claim in dispatch.claim_due(now=frozen.now()):
            dispatch.send_claimed(claim.ids, claim.token)
    assert refreshed(delivery).status == Status.SENT and len(twilio_sim.received()) == calls + 1


# --- Daylight-saving examples -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_repeated_hour_of_a_fall_back_day_opens_the_window_again():
    """New York, 2 Nov 2025: 01:00-01:59 happens twice. With the day starting at 01:30, 01:15 the
    second time is before the start again, and the window opens at the second 01:30 (not in the past)."""
    setting_update(number=274, value="01:30", user=None)
    zone = zoneinfo.ZoneInfo("America/New_York")
    second_0115 = dt.datetime(2025, 11, 2, 6, 15, tzinfo=dt.UTC)  # 01:15 EST
    assert wall(second_0115, zone).time() == dt.time(1, 15)
    assert dispatch.next_window_start("sms", zone, second_0115) == dt.datetime(2025, 11, 2, 6, 30, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_start_in_the_skipped_hour_opens_the_window_when_the_clock_jumps():
    """New York, 9 Mar 2025: 02:00-02:59 never happens. A 02:30 start opens the window at 03:00 EDT."""
    setting_update(number=274, value="02:30", user=None)
    zone = zoneinfo.ZoneInfo("America/New_York")
    jump = dt.datetime(2025, 3, 9, 7, 0, tzinfo=dt.UTC)  # 01:59:59 EST -> 03:00 EDT
    assert dispatch.next_window_start("sms", zone, at("America/New_York", 2025, 3, 9, 1, 0)) == jump
    anchor = at("America/New_York", 2025, 3, 9, 15, 0)
    assert send_time(START, Offset(0, OffsetUnit.DAYS), anchor=anchor, zone=zone) == jump


@pytest.mark.django_db
def test_an_empty_window_stored_before_the_check_lets_nothing_out():
    SystemSetting.objects.filter(number=274).update(value="22:00")  # as an old installation may hold
    from messaging.system_settings import clear_cache

    clear_cache()
    zone = zoneinfo.ZoneInfo("America/New_York")
    for hour in (3, 12, 21, 22, 23):
        moment = at("America/New_York", 2025, 6, 3, hour, 0)
        verdict = check_before_send(unsaved_delivery("sms", zone), Verdict("send", address="+1"), {}, moment)
        assert verdict.action == "defer" and verdict.at > moment
        assert "sending window is empty" in verdict.reason


# --- The admin ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_refuses_a_stop_time_at_or_before_the_start(admin_client):
    stop = reverse("admin:messaging_systemsetting_change", args=[272])
    for value in ("08:00", "07:00", "00:30"):
        response = admin_client.post(stop, {"value": value})
        assert response.status_code == 200
        assert "The stop time must be later than the start of the messaging day" in response.content.decode()
        assert "(274) is 08:00" in response.content.decode()
    assert get_setting(272) == dt.time(21, 0)
    assert admin_client.post(stop, {"value": "08:01"}).status_code == 302
    assert get_setting(272) == dt.time(8, 1)


@pytest.mark.django_db
def test_the_admin_refuses_a_start_at_or_after_a_stop_time(admin_client):
    setting_update(number=270, value="19:00", user=None)
    start = reverse("admin:messaging_systemsetting_change", args=[274])
    response = admin_client.post(start, {"value": "19:00"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The start of the messaging day must be earlier than every stop time" in page
    assert "MESSAGING - VOICE - Stop Time (270) is 19:00" in page and "(272)" not in page
    assert get_setting(274) == dt.time(8, 0)
    assert admin_client.post(start, {"value": "07:15"}).status_code == 302
    assert get_setting(274) == dt.time(7, 15)
    listing = admin_client.get(reverse("admin:messaging_systemsetting_changelist"), {"q": "Start Time"})
    assert "MESSAGING - Start Time" in listing.content.decode()
