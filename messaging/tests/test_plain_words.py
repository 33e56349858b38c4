"""Issue 15 §2: words a receptionist can act on — failures in each channel's words, one clock on the
delivery detail, one status vocabulary on every screen."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from importlib import import_module
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from bounces.taxonomy import Category
from clients.tests.factories import make_appointment, make_client
from core import clock
from messaging import history as hist
from messaging.channels.fax.errors import FAX_CODE_RULES, FAX_ERROR_TYPE_RULES, FAX_TEXT_RULES
from messaging.channels.registry import all_specs
from messaging.channels.twilio.errors import SMS_ERROR_RULES
from messaging.channels.voice.errors import CALL_STATUS_RULES
from messaging.explanations import NEUTRAL, explain
from messaging.models import Attempt, Delivery, MessageType, Status
from messaging.status_words import attempts_summary, clinic_times, status_words, waiting_for_day
from messaging.tests.dispatch_support import make_delivery

_C = Category
_SMS = {category for category, _, _ in SMS_ERROR_RULES.values()}
# What each channel's classifier (and the dispatcher, for every channel) can give a delivery.
_ANY_CHANNEL = {_C.OTHER, _C.BAD_CONFIGURATION}  # no details / the template did not render
PRODUCED: dict[str, set[Category]] = {
    "sms": _SMS | _ANY_CHANNEL | {_C.DNS},
    # A refused call is classified with the message error table (messaging/channels/voice/transport.py).
    "voice": set(CALL_STATUS_RULES.values()) | {_C.BAD_MAILBOX} | _SMS | _ANY_CHANNEL | {_C.DNS},
    "fax": {c for c, _ in FAX_CODE_RULES.values()}
    | {c for c, _ in FAX_ERROR_TYPE_RULES.values()}
    | {c for _, c, _ in FAX_TEXT_RULES}
    | {_C.BAD_MAILBOX}
    | _ANY_CHANNEL
    | {_C.DNS},
    "email": set(Category),
    "portal": {_C.BAD_MAILBOX} | _ANY_CHANNEL,
}
OTHER_ZONE = "Pacific/Honolulu"  # no daylight-saving time, never a US mainland clinic's clock
EMAIL_WORDS = ("smtp", "email box", "e-mail", "email", "mailbox", "domain", "@")
PHONE_WORDS = ("landline", "handset", "carrier", "cell phone", "text message", "voicemail", "fax machine")
FOREIGN: dict[str, tuple[str, ...]] = {
    "sms": EMAIL_WORDS + ("fax machine", "voicemail"),
    "voice": EMAIL_WORDS + ("text message", "texts"),
    "fax": EMAIL_WORDS + ("text message", "texts", "voicemail picked"),
    "email": PHONE_WORDS,
    "portal": EMAIL_WORDS + PHONE_WORDS,
}


def _own_words(channel: str) -> dict[str, tuple[str, str]]:
    spec = next(s for s in all_specs() if s.kind == channel)
    return {str(k): v for k, v in import_module(spec.explanations).EXPLANATIONS.items()}


# --- Failure categories in each channel's words ----------------------------------------------------------


def test_every_channel_has_its_own_words_for_what_it_can_produce():
    assert {spec.kind for spec in all_specs()} == set(PRODUCED)
    for channel, categories in PRODUCED.items():
        own = _own_words(channel)
        for category in categories:
            assert str(category) in own, (channel, category)
            words = explain(str(category), channel)
            assert words.meaning.strip() and words.next_step.strip(), (channel, category)
            assert (words.meaning, words.next_step) == own[str(category)]


@pytest.mark.parametrize("channel", sorted(PRODUCED))
def test_no_channel_speaks_another_channels_words(channel):
    """Every category (also those a channel has no words of its own for) avoids other channels' words."""
    for category in Category:
        text = explain(str(category), channel).text.lower()
        assert text, (channel, category)
        found = [w for w in FOREIGN[channel] if re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text)]
        assert not found, (channel, str(category), found, text)


def test_the_neutral_words_name_no_channel():
    for category, (meaning, step) in NEUTRAL.items():
        text = f"{meaning} {step}".lower()
        assert meaning and step
        assert not [w for w in EMAIL_WORDS + PHONE_WORDS + ("text", "call") if w in text.split()], category
        assert "smtp" not in text and "email" not in text


def test_sms_to_a_landline_says_so_and_what_to_do():
    """The issue's case: Twilio 30006 read "Bad-Mailbox · Hard — The email box is invalid."."""
    words = explain("Bad-Mailbox", "sms", "30006")
    assert "landline" in words.meaning and "can't receive texts" in words.meaning
    assert "Voice" in words.next_step and "update" in words.next_step
    unreachable = explain("No-Answer-From-Host", "sms", "30003").text
    assert "SMTP" not in unreachable and "phone could not be reached" in unreachable


def test_a_codes_words_apply_only_with_the_category_that_code_gives():
    sms = import_module("messaging.channels.sms.explanations")
    for category, code in sms.BY_CODE:
        assert SMS_ERROR_RULES[int(code)][0] == category, code
    # An earlier attempt's code left on the delivery does not explain a different failure.
    assert explain("No-Answer-From-Host", "sms", "30006") == explain("No-Answer-From-Host", "sms")


def test_email_keeps_the_seeds_explanations_and_adds_a_next_step():
    for category in Category:
        words = explain(str(category), "email")
        assert words.meaning == category.explanation and words.next_step


def test_unknown_or_missing_category_has_no_words():
    assert not explain("", "sms") and not explain("Nonsense", "sms") and explain("Nonsense").text == ""
    assert explain("Bad-Mailbox", "pigeon") == explain("Bad-Mailbox")  # an unknown channel: neutral words


# --- History, the detail page and the Failure Summary use them ------------------------------------------------


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("frontdesk", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_history"))
    client.force_login(user)
    return user


def _failed(channel: str, category: str, code: str = "", **fields: Any) -> Delivery:
    return make_delivery(
        channel=channel,
        status=Status.FAILED,
        bounce_category=category,
        hard_bounce=Category(category).hard,
        error_code=code,
        next_attempt_at=None,
        **fields,
    )


@pytest.mark.django_db
def test_history_tooltip_and_explanation_column_use_the_rows_channel(client, staff):
    landline = _failed("sms", "Bad-Mailbox", "30006")
    _failed("email", "Bad-Mailbox")
    html = client.get(reverse("messaging:history")).content.decode()
    assert f'title="{escape(explain("Bad-Mailbox", "sms", "30006").text)}">Bad-Mailbox<' in html
    assert f'title="{escape(explain("Bad-Mailbox", "email").text)}">Bad-Mailbox<' in html
    row = hist.as_rows(Delivery.objects.filter(pk=landline.pk), hist.COLUMN_LIST).get()
    assert "landline" in hist.COLUMNS["error_explanation"].csv_value(row)


@pytest.mark.django_db
def test_delivery_detail_explains_the_failure_in_the_channels_words(client, staff):
    delivery = _failed("sms", "No-Answer-From-Host", "30003")
    html = client.get(reverse("messaging:delivery-detail", args=[delivery.pk])).content.decode()
    assert escape(explain("No-Answer-From-Host", "sms").meaning) in html
    assert "What to do:" in html and "SMTP" not in html and "email box" not in html.lower()


@pytest.mark.django_db
def test_failure_summary_explains_each_category_per_channel(client, staff):
    _failed("sms", "Bad-Mailbox", finished_at=clock.now())
    _failed("email", "Bad-Mailbox", finished_at=clock.now())
    response = client.get(reverse("messaging:summary"))
    html = response.content.decode()
    row = next(r for r in response.context["rows"] if r.category == "Bad-Mailbox")
    assert {n.channel for n in row.notes} == {"sms", "email"}
    assert row.explanation == explain("Bad-Mailbox").text  # every channel shown: words for any channel
    assert escape(explain("Bad-Mailbox", "sms").meaning) in html and 'id="summary-meanings"' in html
    only_sms = client.get(reverse("messaging:summary"), {"channel": "sms"})
    sms_row = next(r for r in only_sms.context["rows"] if r.category == "Bad-Mailbox")
    assert sms_row.explanation == explain("Bad-Mailbox", "sms").text
    assert "email box" not in only_sms.content.decode().lower()


# --- One clock on the delivery detail ------------------------------------------------------------------


def test_a_stored_utc_time_is_told_in_clinic_time():
    instant = dt.datetime(2026, 12, 6, 16, 42, tzinfo=dt.UTC)
    local = instant.astimezone(clock.clinic_zone())
    text = clinic_times("Bad-Mailbox: resend 1 of 2 at 2026-12-06 16:42 UTC")
    hour = local.hour % 12 or 12
    assert "UTC" not in text and f"{hour}:{local.minute:02d}" in text and text.endswith("clinic time")
    assert clinic_times("no time here") == "no time here"
    assert clinic_times("at 2026-13-45 99:99 UTC") == "at 2026-13-45 99:99 UTC"  # not a time: left alone


def test_attempts_are_counted_from_the_attempts_made():
    assert attempts_summary([]) == "None yet" and attempts_summary([], 2) == "2"
    assert attempts_summary(["first"]) == "1: the first attempt"
    assert attempts_summary(["first", "redial", "resend", "redial"]) == "4: the first attempt, 2 redials and 1 resend"


@pytest.mark.django_db
def test_detail_page_has_one_clock_and_counts_only_resends_made(client, staff):
    """The issue's page: "16:42 UTC" beside clinic times, "resends 1" before any resend, a due time
    labelled as something else."""
    now = clock.now()
    due = now + dt.timedelta(minutes=30)
    reason = f"Bad-Mailbox: resend 1 of 2 at {due.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    delivery = make_delivery(
        channel="sms",
        client=make_client(time_zone=OTHER_ZONE),
        status=Status.QUEUED,
        status_reason=reason,
        next_attempt_at=due,
        attempt_count=1,
        resend_count=1,  # the resend scheduled, not made
        retry_kind="resend",
        bounce_category="Quota-Issues",
        hard_bounce=False,
    )
    Attempt.objects.create(delivery=delivery, number=1, started_at=now - dt.timedelta(minutes=5), outcome="failed")
    html = client.get(reverse("messaging:delivery-detail", args=[delivery.pk])).content.decode()
    assert "UTC" not in html
    assert "resends 1" not in html and "1: the first attempt" in html
    assert "Next attempt due at" in html and 'id="next-due"' in html
    note = html.split('id="clock-note">')[1].split("</p>")[0]
    assert (
        note.startswith("Times are clinic time") and f"the client's time zone is {OTHER_ZONE.replace('_', ' ')}" in note
    ), note
    assert html.count("clinic time") >= 3


# --- One status vocabulary --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manual_broadcast_dated_later_reads_scheduled_like_an_automated_one(client, staff):
    later = clock.now() + dt.timedelta(days=2)
    manual = make_delivery(channel="email", status=Status.QUEUED, next_attempt_at=later)
    automated = make_delivery(channel="email", status=Status.SCHEDULED, next_attempt_at=later)
    due_now = make_delivery(channel="email", status=Status.QUEUED)
    for delivery in (manual, automated):
        words = status_words(status=delivery.status, next_attempt_at=later)
        assert words.label == "Scheduled" and words.reason.startswith("Goes out ") and "clinic time" in words.reason
    assert status_words(status=Status.QUEUED, next_attempt_at=due_now.next_attempt_at).label == "Queued"
    html = client.get(reverse("messaging:delivery-detail", args=[manual.pk])).content.decode()
    assert '<span class="badge " id="delivery-status">Scheduled</span>' in html.replace("badge  ", "badge ")
    scheduled = client.get(reverse("messaging:history"), {"status": "scheduled"}).context["rows"]
    queued = client.get(reverse("messaging:history"), {"status": "queued"}).context["rows"]
    assert {r[0]["id"] for r in scheduled} == {manual.pk, automated.pk}
    assert {r[0]["id"] for r in queued} == {due_now.pk}


def test_a_message_waiting_for_the_messaging_day_says_why_and_until_when():
    clinic = clock.clinic_zone()
    now = dt.datetime(2026, 3, 10, 22, 30, tzinfo=clinic)
    opens = dt.datetime(2026, 3, 11, 8, 0, tzinfo=clinic)
    reason = f"Outside the sending window (08:00–21:00 {clinic.key}); waits for the next window"
    words = status_words(status=Status.QUEUED, reason=reason, next_attempt_at=opens, now=now)
    assert words.label == "Waiting"
    assert words.reason == "Waiting for the messaging day to start at 8:00 AM tomorrow (clinic time)"


def test_a_client_in_another_zone_gets_both_clocks():
    clinic = clock.clinic_zone()
    far = zoneinfo.ZoneInfo("Pacific/Honolulu")  # no daylight-saving time: never the clinic's clock
    opens = dt.datetime(2026, 3, 11, 8, 0, tzinfo=far)
    reason = "Outside the sending window (08:00–21:00 Pacific/Honolulu); waits for the next window"
    text = waiting_for_day(reason, opens, now=opens - dt.timedelta(hours=10))
    there = opens.astimezone(clinic)
    assert text.startswith("Waiting for the messaging day to start at 8:00 AM")
    assert "the client's time (Pacific/Honolulu)" in text
    assert f"{there.hour % 12 or 12}:00 {'AM' if there.hour < 12 else 'PM'}" in text and text.endswith("clinic time")


@pytest.mark.django_db
def test_history_shows_the_waiting_reason(client, staff):
    clinic = clock.clinic_zone()
    opens = clock.now() + dt.timedelta(hours=3)
    reason = f"Outside the sending window (08:00–21:00 {clinic.key}); waits for the next window"
    make_delivery(channel="sms", status=Status.QUEUED, status_reason=reason, next_attempt_at=opens)
    html = client.get(reverse("messaging:history")).content.decode()
    assert '<span class="badge warn">Waiting</span>' in html
    assert "Waiting for the messaging day to start at " in html


# --- Counts that agree (the New tab) ---------------------------------------------------------------------


@pytest.mark.django_db
def test_new_tab_header_and_excluded_panel_count_the_same_people(client, django_user_model):
    """The issue's "27 excluded" beside "Excluded 57" (the panel counted people still reached by another
    method) and "59 clients" that counted appointments, and "1 clients"."""
    user = django_user_model.objects.create_user("sender", password="x")
    for codename in ("send_messages", "view_history"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    soon = clock.now() + dt.timedelta(days=1)
    twice = make_client(last_name="Twice")
    make_appointment(twice, start=soon)
    make_appointment(twice, start=soon + dt.timedelta(hours=2))
    make_appointment(make_client(last_name="Partly", email=""), start=soon)  # no e-mail: the text still goes
    make_appointment(make_client(last_name="Noconsent", consent=False), start=soon)
    local = timezone.localtime(clock.now())
    data = {
        "message_type": str(upcoming.pk),
        "description": "",
        "start_date": local.date().isoformat(),
        "end_date": (local.date() + dt.timedelta(days=7)).isoformat(),
        "broadcast_at": local.strftime("%Y-%m-%dT%H:%M"),
        "channels": ["sms", "email"],
        "idempotency_key": "key-1",
        "skipped": "",
    }
    html = client.post(reverse("messaging:refresh"), data, HTTP_HX_REQUEST="true").content.decode()
    tally = html.split('id="recipient-tally"')[1].split("</p>")[0]
    assert '<strong id="recipient-count">3</strong> appointments' in tally  # Twice ×2 and Partly
    assert '<strong id="excluded-count">1</strong> excluded' in tally
    assert '<span class="badge" id="excluded-badge">1</span>' in html  # the panel counts the same person
    assert "Partly" in html.split('id="excluded-list"')[1] and 'id="per-appointment-note"' in html
