"""Automated messages: planned in the recipient's zone, released once, never for cancelled appointments."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth import get_user_model

from bounces.services import dns_add
from clients.models import (
    Appointment,
    AppointmentStatus,
    ContactMethod,
    MessagingProfile,
    StaffProfile,
)
from clients.tests.factories import make_appointment, make_client, make_clinician
from core import clock
from messaging import automation
from messaging.automation import run_planner
from messaging.models import AutomationRule, Broadcast, Delivery, MessageType, Status
from messaging.rendering import delivery_context
from messaging.services_settings import setting_update
from messaging.system_settings import clear_cache

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
NY = zoneinfo.ZoneInfo("America/New_York")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def kicks(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: calls.append(1))
    return calls


def setting(number: int, value: str) -> None:
    setting_update(number=number, value=value)
    clear_cache()


def local(zone: zoneinfo.ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def rows(**filters) -> list[Delivery]:
    return list(Delivery.objects.filter(**filters).order_by("next_attempt_at", "id"))


def la_client(**kw):
    return make_client(time_zone="America/Los_Angeles", **kw)


# Wednesday 2025-03-19 10:00 in Los Angeles (after the US daylight-saving change of March 9).
APPT = local(LA, 2025, 3, 19, 10, 0)


def test_reminder_goes_at_the_offset_in_the_clients_zone_and_only_once(kicks, django_capture_on_commit_callbacks):
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 9, 0)) as frozen:  # Sunday: more than a day before the send time
        assert run_planner().planned == 0
        frozen.set(local(LA, 2025, 3, 16, 10, 30))  # Sunday 10:30: Monday 10:00 is within a day
        assert run_planner().planned == 1
        (reminder,) = rows(appointment=appointment)
        assert reminder.status == Status.SCHEDULED
        assert reminder.next_attempt_at == local(LA, 2025, 3, 17, 10, 0)  # 2 days before, 10:00 client time
        assert reminder.channel == "sms" and reminder.address == str(client.cell_phone)
        assert reminder.message_type.code == "client-upcoming-appointment"
        frozen.set(local(LA, 2025, 3, 17, 9, 59))
        assert run_planner().released == {}
        frozen.set(local(LA, 2025, 3, 17, 10, 0))
        with django_capture_on_commit_callbacks(execute=True):
            result = run_planner()
        assert result.released == {Status.QUEUED: 1} and result.planned == 0
        for minutes in range(1, 5):  # later beats (or a second beat process) find nothing to do
            frozen.advance(minutes=minutes)
            assert run_planner() == automation.PlannerResult(planned=0, released={}, cancelled=0)
    (reminder,) = rows(appointment=appointment)
    assert reminder.status == Status.QUEUED
    assert kicks == [1]
    broadcast = reminder.broadcast
    assert broadcast.automated and broadcast.sent_by_label == "automated" and broadcast.created_by is None


def test_days_count_on_the_clients_wall_clock_across_daylight_saving():
    client = make_client(time_zone="America/New_York")
    start = local(NY, 2025, 3, 10, 9, 30)  # Monday after the DST change (Sunday March 9)
    make_appointment(client, start=start)
    with clock.freeze(local(NY, 2025, 3, 7, 12, 0)):
        run_planner()
    (reminder,) = rows(client=client)
    assert reminder.next_attempt_at.astimezone(NY) == local(NY, 2025, 3, 8, 9, 30)  # Saturday 9:30 EST
    assert reminder.next_attempt_at - start == dt.timedelta(days=-2, hours=1)  # 47 hours: the clock moved


def test_planner_run_twice_or_concurrently_writes_one_row_per_key():
    client = la_client(preferred=ContactMethod.EMAIL)
    make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 17, 8, 0)):
        ctx = automation.Context.load()
        candidates = automation.appointment_candidates(Appointment.objects.get(client=client), ctx)
        chosen = automation.select_due(candidates, ctx.now)
        assert automation.write_rows(ctx, chosen) == 1
        # A second beat that computed the same plan before the first one wrote it:
        Delivery.objects.filter(dedupe_key=chosen[0][0].key).update(dedupe_key="other")
        assert automation.write_rows(ctx, chosen) == 1
        assert automation.write_rows(ctx, chosen) == 0
        run_planner()
        run_planner()
    assert Delivery.objects.filter(client=client).count() == 2  # the renamed one and the real one
    assert Broadcast.objects.filter(automated=True).count() == 1


def test_cancelled_appointment_cancels_pending_reminders_and_plans_none():
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        run_planner()
        appointment.status = AppointmentStatus.CANCELLED
        appointment.save()
        assert automation.appointment_cancelled(appointment) == 1
        frozen.set(local(LA, 2025, 3, 17, 10, 0))
        assert run_planner().released == {}
        frozen.set(local(LA, 2025, 3, 19, 9, 0))
        run_planner()
    (reminder,) = rows(appointment=appointment)
    assert reminder.status == Status.CANCELLED and reminder.status_reason == "Appointment cancelled"


def test_cancellation_without_the_service_is_caught_by_the_planner():
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        run_planner()
        Appointment.objects.filter(pk=appointment.pk).update(status=AppointmentStatus.CANCELLED)
        frozen.set(local(LA, 2025, 3, 16, 12, 1))
        assert run_planner().cancelled == 1
    assert rows(appointment=appointment)[0].status == Status.CANCELLED


def test_rescheduling_replans_and_moving_back_revives():
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        run_planner()
        appointment.start = APPT + dt.timedelta(days=7)
        appointment.end = appointment.start + dt.timedelta(minutes=50)
        appointment.save()
        automation.appointment_rescheduled(appointment)
        (old,) = rows(appointment=appointment)
        assert old.status == Status.CANCELLED and old.status_reason == "Appointment rescheduled"
        frozen.set(local(LA, 2025, 3, 23, 12, 0))  # a day before the new send time
        run_planner()
        new = rows(appointment=appointment, status=Status.SCHEDULED)
        assert [d.next_attempt_at for d in new] == [local(LA, 2025, 3, 24, 10, 0)]
        # Moved back to the first time (before its send time): the first reminder comes back.
        appointment.start = APPT
        appointment.save()
    with clock.freeze(local(LA, 2025, 3, 16, 13, 0)):
        automation.appointment_rescheduled(appointment)
    statuses = {d.dedupe_key.split(":")[2]: d.status for d in rows(appointment=appointment)}
    assert statuses == {"20250319T1700Z": Status.SCHEDULED, "20250326T1700Z": Status.CANCELLED}
    assert rows(appointment=appointment, status=Status.SCHEDULED)[0].next_attempt_at == local(LA, 2025, 3, 17, 10, 0)


def test_admin_save_replans(admin_client):
    client = la_client()
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)):
        appointment = make_appointment(client, start=APPT)
        run_planner()
        data = {
            "client": client.pk,
            "clinician": appointment.clinician_id,
            "start_0": "2025-03-19",
            "start_1": "13:00:00",  # the admin works in the clinic's zone (New York)
            "end_0": "2025-03-19",
            "end_1": "14:00:00",
            "status": "cancelled",
            "confirmation": "none",
            "location": "",
            "meeting_link": "",
        }
        response = admin_client.post(f"/admin/clients/appointment/{appointment.pk}/change/", data)
        assert response.status_code == 302, response.content[:2000]
    assert rows(appointment=appointment)[0].status == Status.CANCELLED


def test_consent_withdrawn_before_the_send_time_suppresses():
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        run_planner()
        MessagingProfile.objects.filter(client=client).update(consent_given=False)
        frozen.set(local(LA, 2025, 3, 17, 10, 0))
        assert run_planner().released == {Status.SUPPRESSED: 1}
    (reminder,) = rows(appointment=appointment)
    assert reminder.status_reason == "No messaging consent"


def test_no_consent_no_row_and_mail_preference_no_row():
    make_appointment(la_client(consent=False), start=APPT)
    make_appointment(la_client(preferred=ContactMethod.MAIL), start=APPT)
    with clock.freeze(local(LA, 2025, 3, 17, 9, 0)):
        assert run_planner().planned == 0


def test_changed_preference_cancels_the_old_channel_and_sends_the_new_one():
    client = la_client(preferred=ContactMethod.EMAIL)
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        run_planner()
        MessagingProfile.objects.filter(client=client).update(preferred_contact_method=ContactMethod.TEXT)
        frozen.set(local(LA, 2025, 3, 17, 10, 0))
        run_planner()
        run_planner()
    by_channel = {d.channel: d for d in rows(appointment=appointment)}
    assert by_channel["email"].status == Status.CANCELLED
    assert by_channel["email"].status_reason == "Client now prefers Text Message"
    assert by_channel["sms"].status == Status.QUEUED


def test_do_not_send_address_is_suppressed_with_its_category():
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    dns_add(channel="sms", address=str(client.cell_phone), reason="sms_stop")
    with clock.freeze(local(LA, 2025, 3, 17, 10, 0)):
        run_planner()
        run_planner()
    (reminder,) = rows(appointment=appointment)
    assert reminder.status == Status.SUPPRESSED and reminder.bounce_category == "DNS" and reminder.hard_bounce
    assert "Do-Not-Send" in reminder.status_reason


def test_part2_client_never_gets_an_hie_message_setting_490():
    MessageType.objects.filter(code="client-upcoming-appointment").update(is_hie=True)
    part2 = la_client(part2_diagnosis=True)
    other = la_client()
    make_appointment(part2, start=APPT)
    make_appointment(other, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 17, 10, 0)):
        run_planner()
        run_planner()
    assert rows(client=part2)[0].status == Status.SUPPRESSED
    assert "42 CFR Part 2" in rows(client=part2)[0].status_reason
    assert rows(client=other)[0].status == Status.QUEUED
    assert automation.hie_block_reason(client=part2, message_type=rows(client=part2)[0].message_type)
    setting(490, "no")
    assert automation.hie_block_reason(client=part2, message_type=rows(client=part2)[0].message_type) == ""


def test_staff_add_send_times_without_code():
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    AutomationRule.objects.create(message_type=upcoming, amount=3, unit="d")
    AutomationRule.objects.create(message_type=upcoming, amount=2, unit="h", channels=["email"])
    AutomationRule.objects.create(message_type=upcoming, amount=1, unit="d", active=False)
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 15, 12, 0)) as frozen:
        for _ in range(4 * 24):
            run_planner()
            frozen.advance(minutes=60)
    got = [(d.next_attempt_at.astimezone(LA), d.channel, d.status) for d in rows(appointment=appointment)]
    assert got == [
        (local(LA, 2025, 3, 16, 10, 0), "sms", Status.QUEUED),
        (local(LA, 2025, 3, 17, 10, 0), "sms", Status.QUEUED),
        (local(LA, 2025, 3, 19, 8, 0), "email", Status.QUEUED),
    ]


def test_late_booking_gets_one_catch_up_reminder_not_every_missed_one():
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    AutomationRule.objects.create(message_type=upcoming, amount=3, unit="d")
    late = la_client()
    later = la_client()
    with clock.freeze(local(LA, 2025, 3, 18, 15, 0)):
        make_appointment(late, start=APPT)  # 19 hours ahead: the 3-day and 2-day times are both missed
        make_appointment(later, start=APPT + dt.timedelta(days=2))  # its 2-day time is still ahead
        run_planner()
        run_planner()
    (catch_up,) = rows(client=late)
    assert catch_up.dedupe_key.endswith(":2d:sms") and catch_up.status == Status.QUEUED
    (ahead,) = rows(client=later)  # the missed 3-day reminder is not sent late
    assert ahead.dedupe_key.endswith(":2d:sms") and ahead.status == Status.SCHEDULED
    assert ahead.next_attempt_at == local(LA, 2025, 3, 19, 10, 0)


def test_setting_773_off_plans_nothing_and_cancels_pending():
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        run_planner()
        setting(773, "no")
        frozen.set(local(LA, 2025, 3, 17, 10, 0))
        run_planner()
        other = make_appointment(la_client(), start=APPT + dt.timedelta(hours=1))
        run_planner()
    assert rows(appointment=appointment)[0].status_reason == "Automated messaging not enrolled (setting 773)"
    assert rows(appointment=other) == []


def test_telehealth_messages_carry_the_link_and_the_clinician_gets_it_with_751():
    setting(751, "yes")
    clinician = make_clinician("tele")
    clinician.email = "dr@example.org"
    clinician.save()
    client = la_client(preferred=ContactMethod.EMAIL)
    appointment = make_appointment(
        client, start=APPT, clinician=clinician, is_telehealth=True, meeting_link="https://meet.example.org/abc"
    )
    with clock.freeze(local(LA, 2025, 3, 16, 12, 0)) as frozen:
        while frozen.now() < APPT:
            run_planner()
            frozen.advance(minutes=10)
    got = sorted(
        (d.message_type.code, d.recipient_type, d.next_attempt_at.astimezone(LA), d.status)
        for d in rows(appointment=appointment)
    )
    assert got == [
        ("jaas-telehealth-1", "client", local(LA, 2025, 3, 17, 10, 0), Status.QUEUED),
        ("jaas-telehealth-1", "staff", local(LA, 2025, 3, 17, 10, 0), Status.QUEUED),  # 13:00 for the clinician
        ("jaas-telehealth-2", "client", local(LA, 2025, 3, 19, 9, 30), Status.QUEUED),
        ("jaas-telehealth-2", "staff", local(LA, 2025, 3, 19, 9, 30), Status.QUEUED),
    ]
    staff_copy = rows(appointment=appointment, recipient_type="staff")[0]
    assert staff_copy.address == "dr@example.org" and staff_copy.channel == "email"
    assert delivery_context(rows(appointment=appointment)[0])["telehealth_link"] == "https://meet.example.org/abc"


def test_telehealth_without_link_is_suppressed_and_no_clinician_copy_without_751():
    client = la_client()
    appointment = make_appointment(client, start=APPT, is_telehealth=True)
    with clock.freeze(local(LA, 2025, 3, 17, 10, 0)):
        run_planner()
        run_planner()
    (message,) = rows(appointment=appointment)
    assert message.status == Status.SUPPRESSED and message.status_reason == "Telehealth appointment has no meeting link"


def test_initial_appointment_confirmation_goes_when_booked():
    client = la_client()
    with clock.freeze(local(LA, 2025, 3, 10, 11, 0)):
        appointment = make_appointment(client, start=APPT, is_initial=True, created_at=clock.now())
        automation.appointment_booked(appointment)
    codes = {d.message_type.code: d.status for d in rows(appointment=appointment)}
    assert codes == {"initial-appointment-confirmation": Status.QUEUED}
    setting(776, "no")
    other = la_client()
    with clock.freeze(local(LA, 2025, 3, 10, 11, 0)):
        appointment = make_appointment(other, start=APPT, is_initial=True, created_at=clock.now())
        automation.appointment_booked(appointment)
    assert rows(appointment=appointment) == []


def test_post_appointment_message_after_completion_with_780():
    setting(780, "yes")
    client = la_client()
    appointment = make_appointment(client, start=APPT)
    with clock.freeze(APPT + dt.timedelta(hours=2)):
        appointment.status = AppointmentStatus.COMPLETED
        appointment.save()
        automation.appointment_changed(appointment=appointment, before=Appointment(status="scheduled"))
        run_planner()
    (message,) = rows(appointment=appointment)
    assert message.message_type.code == "post-appointment-message" and message.status == Status.QUEUED


def test_user_renewals_within_the_window():
    User = get_user_model()
    user = User.objects.create_user("nurse", email="nurse@example.org", first_name="Nia", last_name="Nurse")
    StaffProfile.objects.create(user=user, licence_name="RN licence", licence_renewal_date=dt.date(2025, 4, 10))
    far = User.objects.create_user("far", email="far@example.org")
    StaffProfile.objects.create(user=far, licence_renewal_date=dt.date(2025, 9, 1))
    with clock.freeze(local(NY, 2025, 3, 20, 12, 0)):  # 21 days before: within the default 30-day window
        run_planner()
        run_planner()
    (message,) = rows(user=user)
    assert message.status == Status.QUEUED and message.channel == "email" and message.address == "nurse@example.org"
    assert message.broadcast.start_date == dt.date(2025, 4, 10)
    context = delivery_context(message)
    assert context["renewal_item"] == "RN licence" and "April 10" in context["renewal_date"]
    assert rows(user=far) == []


def test_billing_statement_and_portal_password_services():
    client = la_client(preferred=ContactMethod.EMAIL)
    first = automation.send_billing_statement(client=client, idempotency_key="stmt-42")
    again = automation.send_billing_statement(client=client, idempotency_key="stmt-42")
    assert [d.status for d in first] == [Status.QUEUED] and again == []
    assert first[0].channel == "email" and first[0].broadcast.automated
    (portal,) = automation.send_portal_password_change(client=client)
    assert portal.message_type.code == "portal-password-change" and portal.status == Status.QUEUED
    assert automation.send_billing_statement(client=la_client(consent=False)) == []


def test_beat_schedule_is_created_once_and_editable():
    from django_celery_beat.models import PeriodicTask

    automation.ensure_automation_schedules()
    automation.ensure_automation_schedules()
    (task,) = PeriodicTask.objects.filter(task="automation.plan")
    assert task.interval.every == 1 and task.interval.period == "minutes" and task.enabled
    task.enabled = False
    task.save()
    automation.ensure_automation_schedules()
    assert not PeriodicTask.objects.get(pk=task.pk).enabled  # an administrator's edit is kept


def test_the_beat_task_runs_the_planner():
    from messaging.automation_tasks import plan_automated_messages

    make_appointment(la_client(), start=APPT)
    with clock.freeze(local(LA, 2025, 3, 17, 10, 0)):
        result = plan_automated_messages.apply().get()
    assert result == {"planned": 1, "released": {Status.QUEUED: 1}, "cancelled": 0}


def test_reminder_that_would_wait_past_the_visit_for_the_stop_time_is_cancelled():
    client = la_client()
    early = make_appointment(
        client, start=local(LA, 2025, 3, 19, 7, 45), is_telehealth=True, meeting_link="https://m/1"
    )
    with clock.freeze(local(LA, 2025, 3, 19, 7, 15)):  # JaaS message 2 due 7:15, texts start at 8:00
        run_planner()
        run_planner()
    second = rows(appointment=early, message_type__code="jaas-telehealth-2")[0]
    assert second.status == Status.CANCELLED and "next sending window" in second.status_reason


def test_planner_runs_on_demand_from_the_command_line():
    from io import StringIO

    from django.core.management import call_command

    make_appointment(la_client(), start=APPT)
    out = StringIO()
    with clock.freeze(local(LA, 2025, 3, 17, 10, 0)):
        call_command("plan_automated_messages", stdout=out)
        call_command("plan_automated_messages", stdout=out)
    assert out.getvalue().splitlines() == [
        "Planned 1, released: 1 queued, cancelled 0.",
        "Planned 0, released: none, cancelled 0.",
    ]


def test_staff_edit_send_times_in_the_admin(admin_client):
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    data = {"message_type": upcoming.pk, "amount": "3", "unit": "d", "channels": ["sms", "email"], "active": "on"}
    response = admin_client.post("/admin/messaging/automationrule/add/", data)
    assert response.status_code == 302
    rule = AutomationRule.objects.get()
    assert rule.channels == ["sms", "email"] and rule.amount == 3
    listing = admin_client.get("/admin/messaging/automationrule/").content.decode()
    assert "3 days before the appointment" in listing and "Text (SMS), Email" in listing
    too_far = admin_client.post("/admin/messaging/automationrule/add/", {**data, "amount": "9999", "unit": "h"})
    assert too_far.status_code == 200 and "At most 1440 hours" in too_far.content.decode()
    assert admin_client.get("/admin/django_celery_beat/periodictask/").status_code == 200
    assert (
        "Automated messaging: plan and release due messages"
        in admin_client.get("/admin/django_celery_beat/periodictask/").content.decode()
    )
