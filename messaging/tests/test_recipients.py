from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bounces.models import DoNotSendEntry
from clients.models import AppointmentStatus, ContactMethod, StaffProfile
from clients.tests.factories import make_appointment, make_client
from core import clock
from messaging import dispatch
from messaging.broadcasts import broadcast_create
from messaging.exclusions import Why
from messaging.exclusions import Why as Reason
from messaging.models import Delivery, MessageType, Status
from messaging.recipients import recipients_for
from messaging.tests.dispatch_support import _fresh_rate_limits, _public_base_url, twilio_sim

__all__ = ["_fresh_rate_limits", "_public_base_url", "twilio_sim"]

TODAY = dt.date(2030, 3, 4)


@pytest.fixture
def upcoming(db):
    return MessageType.objects.get(code="client-upcoming-appointment")


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2030, 3, day, hour, tzinfo=timezone.get_current_timezone())


def refresh(message_type, channels=("sms",), **kw):
    kw.setdefault("start_date", TODAY)
    kw.setdefault("end_date", TODAY + dt.timedelta(days=3))
    return recipients_for(message_type=message_type, channels=channels, **kw)


def reasons_of(result, client):
    return [e.reason for e in result.excluded if e.client_id == client.pk]


def test_consenting_client_is_listed_with_chart_address(upcoming):
    client = make_client()
    appointment = make_appointment(client, start=at(5))
    result = refresh(upcoming)
    [recipient] = result.recipients
    assert recipient.client_id == client.pk and recipient.appointment_id == appointment.pk
    assert recipient.when == appointment.start and recipient.preferred == "Text Message"
    assert recipient.key == f"a{appointment.pk}"
    [target] = recipient.targets
    assert (target.channel, target.address, target.source) == ("sms", str(client.cell_phone), "chart")
    assert result.excluded == []


def test_range_is_whole_clinic_days(upcoming):
    inside = make_appointment(make_client(), start=at(7, 23))  # last day, 23:00 clinic time
    make_appointment(make_client(), start=at(8, 0))  # the day after the range
    make_appointment(make_client(), start=at(3, 23))  # the day before
    result = refresh(upcoming)
    assert [r.appointment_id for r in result.recipients] == [inside.pk]


def test_non_consenting_client_excluded_with_reason(upcoming):
    no = make_client(consent=False, last_name="Noconsent")
    noprofile = make_client(profile=False)
    make_appointment(no, start=at(5))
    make_appointment(noprofile, start=at(5))
    result = refresh(upcoming)
    assert result.recipients == []
    assert reasons_of(result, no) == [Reason.NO_CONSENT]
    assert reasons_of(result, noprofile) == [Reason.NO_PROFILE]


def test_cancelled_and_past_appointments_excluded(upcoming):
    cancelled = make_client()
    done = make_client()
    make_appointment(cancelled, start=at(5), status=AppointmentStatus.CANCELLED)
    make_appointment(done, start=at(5), status=AppointmentStatus.COMPLETED)
    result = refresh(upcoming)
    assert reasons_of(result, cancelled) == [Why.CANCELLED]
    assert reasons_of(result, done) == [Why.COMPLETED]


def test_consent_reason_wins_over_cancellation(upcoming):
    client = make_client(consent=False)
    make_appointment(client, start=at(5), status=AppointmentStatus.CANCELLED)
    assert reasons_of(refresh(upcoming), client) == [Reason.NO_CONSENT]


def test_do_not_send_entry_excludes_with_dns_category(upcoming):
    client = make_client()
    make_appointment(client, start=at(5))
    DoNotSendEntry.objects.create(channel="sms", address=str(client.cell_phone), reason="sms_stop")
    result = refresh(upcoming)
    assert result.recipients == []
    [entry] = result.excluded
    assert entry.category == "DNS" and entry.suppressed
    assert entry.address == str(client.cell_phone) and entry.channel == "sms"
    assert "Do-Not-Send" in entry.reason and "Replied STOP" in entry.reason


def test_domain_entry_blocks_email(upcoming):
    client = make_client(email="Pat@Blocked.example")
    make_appointment(client, start=at(5))
    DoNotSendEntry.objects.create(channel="email", address="blocked.example", is_domain=True, reason="staff")
    result = refresh(upcoming, channels=("sms", "email"))
    [recipient] = result.recipients
    assert [t.channel for t in recipient.targets] == ["sms"]
    [entry] = result.excluded
    assert entry.category == "Domain DNS" and entry.channel == "email"
    [person] = result.excluded_people()
    assert person.partly  # still receives the text


def test_expired_or_removed_dns_entries_do_not_block(upcoming):
    client = make_client()
    make_appointment(client, start=at(5))
    DoNotSendEntry.objects.create(
        channel="sms",
        address=str(client.cell_phone),
        reason="soft_bounces",
        expires_at=timezone.now() - dt.timedelta(days=1),
    )
    assert len(refresh(upcoming).recipients) == 1


def test_no_address_for_channel(upcoming):
    client = make_client(cell_phone="", fax="")
    make_appointment(client, start=at(5))
    result = refresh(upcoming, channels=("sms", "fax", "voice"))
    [recipient] = result.recipients
    assert [t.channel for t in recipient.targets] == ["voice"]  # falls back to the home phone
    assert sorted(reasons_of(result, client)) == sorted([Reason.no_address("sms"), Reason.no_address("fax")])


def test_alternate_contact_used_and_named(upcoming):
    client = make_client(use_detail=False, alternate={"name": "Mom", "cell_phone": "+16175559999"})
    make_appointment(client, start=at(5))
    [recipient] = refresh(upcoming).recipients
    [target] = recipient.targets
    assert (target.address, target.source, target.source_label) == ("+16175559999", "alternate", "Messaging Contact")


def test_only_send_based_on_preferences(upcoming):
    email_person = make_client(preferred=ContactMethod.EMAIL)
    text_person = make_client(preferred=ContactMethod.TEXT)
    make_appointment(email_person, start=at(5))
    make_appointment(text_person, start=at(5))
    result = refresh(upcoming, channels=("sms", "email"), only_preferences=True)
    by_client = {r.client_id: [t.channel for t in r.targets] for r in result.recipients}
    assert by_client == {email_person.pk: ["email"], text_person.pk: ["sms"]}
    assert reasons_of(result, email_person) == [Why.preference("Email")]
    # Off: everyone gets every chosen channel.
    result = refresh(upcoming, channels=("sms", "email"), only_preferences=False)
    assert result.message_count == 4


def test_preference_mail_excludes_everything(upcoming):
    client = make_client(preferred=ContactMethod.MAIL)
    make_appointment(client, start=at(5))
    result = refresh(upcoming, channels=("sms",), only_preferences=True)
    assert result.recipients == []
    assert reasons_of(result, client) == [Why.preference("Mail")]


def test_sms_stop_excludes_sms_only(upcoming):
    client = make_client()
    client.messaging.sms_opted_out = True
    client.messaging.save()
    make_appointment(client, start=at(5))
    result = refresh(upcoming, channels=("sms", "email"))
    assert [t.channel for t in result.recipients[0].targets] == ["email"]
    assert reasons_of(result, client) == [Reason.SMS_STOPPED]


def test_part2_hie_messages_follow_setting_490(db):
    from messaging.services_settings import setting_update

    hie = MessageType.objects.get(code="hie-release-notice")
    part2 = make_client(part2_diagnosis=True)
    other = make_client()
    result = refresh(hie)
    assert [r.client_id for r in result.recipients] == [other.pk]
    assert reasons_of(result, part2) == [Why.PART2]
    setting_update(number=490, value="no", user=None)
    from messaging.system_settings import clear_cache

    clear_cache()
    assert {r.client_id for r in refresh(hie).recipients} == {part2.pk, other.pk}


def test_part2_does_not_block_non_hie_types(upcoming):
    client = make_client(part2_diagnosis=True)
    make_appointment(client, start=at(5))
    assert len(refresh(upcoming).recipients) == 1


def test_ad_hoc_reaches_every_active_consenting_client(db):
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    yes = make_client()
    no = make_client(consent=False)
    make_client(is_active=False)
    result = refresh(ad_hoc)
    assert [r.client_id for r in result.recipients] == [yes.pk]
    assert [e.client_id for e in result.excluded] == [no.pk]
    assert result.recipients[0].key == f"c{yes.pk}"


def test_refresh_without_channels_lists_people_without_addresses(upcoming):
    make_appointment(make_client(), start=at(5))
    no = make_client(consent=False)
    make_appointment(no, start=at(5))
    result = refresh(upcoming, channels=())
    assert len(result.recipients) == 1 and result.recipients[0].targets == []
    assert reasons_of(result, no) == [Reason.NO_CONSENT]
    assert result.message_count == 0


def test_staff_types_use_staff_profile_and_user_email(db):
    ad_hoc_staff = MessageType.objects.get(code="ad-hoc-staff")
    User = get_user_model()
    nurse = User.objects.create_user("nurse", email="nurse@clinic.example", first_name="Pat", last_name="Nurse")
    StaffProfile.objects.create(user=nurse, cell_phone="+16175550111")
    bare = User.objects.create_user("bare", first_name="Bo", last_name="Bare")
    User.objects.create_user("gone", email="gone@clinic.example", is_active=False)
    result = refresh(ad_hoc_staff, channels=("sms", "email"))
    by_user = {r.user_id: [(t.channel, t.address, t.source) for t in r.targets] for r in result.recipients}
    assert by_user == {nurse.pk: [("sms", "+16175550111", "user"), ("email", "nurse@clinic.example", "user")]}
    assert sorted(e.reason for e in result.excluded if e.user_id == bare.pk) == [
        "No cell phone number in the user profile",
        "No e-mail address in the user profile",
    ]
    assert result.recipients[0].recipient_type == "staff"


def test_renewals_only_staff_due_in_range(db):
    renewals = MessageType.objects.get(code="user-renewals")
    User = get_user_model()
    due = User.objects.create_user("due", email="due@clinic.example")
    StaffProfile.objects.create(user=due, licence_renewal_date=TODAY + dt.timedelta(days=2))
    later = User.objects.create_user("later", email="later@clinic.example")
    StaffProfile.objects.create(user=later, credential_renewal_date=TODAY + dt.timedelta(days=40))
    result = refresh(renewals, channels=("email",))
    assert [r.user_id for r in result.recipients] == [due.pk]


def test_query_count_does_not_grow_with_rows(upcoming):
    def queries_for(n: int) -> int:
        for i in range(n):
            client = make_client(use_detail=i % 2 == 0, alternate={"cell_phone": "+16175550000", "email": "a@b.org"})
            make_appointment(client, start=at(5))
        DoNotSendEntry.objects.create(channel="sms", address=f"+1617555{n:04d}", reason="staff")
        with CaptureQueriesContext(connection) as ctx:
            result = refresh(upcoming, channels=("sms", "email", "voice", "fax"))
        assert result.recipients
        return len(ctx.captured_queries)

    small = queries_for(3)
    large = queries_for(40)
    assert small == large
    assert large <= 6  # candidates + one Do-Not-Send lookup per channel (+ settings cache)


@pytest.mark.django_db
def test_an_appointment_that_has_started_is_not_upcoming_at_refresh_send_or_send_time(monkeypatch, twilio_sim):
    """At 10:28 a 10:00 appointment is excluded (reason shown); a queued reminder is not sent."""
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    ny = zoneinfo.ZoneInfo("America/New_York")
    day = dt.date(2025, 6, 3)
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    with clock.freeze(dt.datetime(2025, 6, 3, 9, 30, tzinfo=ny)) as frozen:
        early, later = make_client(last_name="Early"), make_client(last_name="Later")
        make_appointment(early, start=dt.datetime(2025, 6, 3, 10, 0, tzinfo=ny))
        make_appointment(later, start=dt.datetime(2025, 6, 3, 15, 0, tzinfo=ny))
        # 9:30, Send: both are upcoming; the broadcast goes at 10:28
        result = broadcast_create(
            message_type=upcoming,
            channels=["sms"],
            start_date=day,
            end_date=day,
            broadcast_at=dt.datetime(2025, 6, 3, 10, 28, tzinfo=ny),
        )
        assert result.queued == 2
        frozen.set(dt.datetime(2025, 6, 3, 10, 28, tzinfo=ny))
        # Refresh at 10:28: the 10:00 appointment has started and is excluded with the reason
        found = recipients_for(message_type=upcoming, channels=["sms"], start_date=day, end_date=day)
        assert [r.name for r in found.recipients] == [f"Later, {later.first_name}"]
        assert [e.reason for e in found.excluded if e.name.startswith("Early")] == [Why.STARTED]
        # Send time: the reminder queued for the 10:00 appointment is not sent
        for claim in dispatch.claim_due(now=frozen.now()):
            dispatch.send_claimed(claim.ids, claim.token)
        rows = {d.client.last_name: d for d in Delivery.objects.filter(broadcast=result.broadcast)}
        assert (rows["Early"].status, rows["Early"].status_reason) == (Status.CANCELLED, Why.STARTED)
        assert rows["Later"].status == Status.SENT
        assert [r["params"]["To"] for r in twilio_sim.received()] == [str(later.cell_phone)]
