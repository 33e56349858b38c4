"""Automated messages: the planner Celery beat runs every minute, and the services the EHR calls.

Nobody clicks Send for these. Each minute (``run_planner``, beat task ``automation.plan``):

1. **Plan.** For every enrolled automated type, work out the send times ("offsets") of each
   appointment (or staff renewal) and insert one ``scheduled`` Delivery per
   (appointment or user, type, offset, channel) whose time falls within ``PLAN_AHEAD``.
   ``Delivery.dedupe_key`` is unique, so a planner run twice, two beat processes or a restarted
   beat never create a second row, and so never a second message.
2. **Release.** ``scheduled`` deliveries whose time has come are checked again, at that moment:
   still planned for this appointment time? consent, preferred contact method, address,
   Do-Not-Send list, 42 CFR Part 2 (setting 490)? They move to ``queued`` (or ``suppressed`` /
   ``cancelled`` with the reason) by compare-and-set. The dispatcher then sends queued rows and
   defers anything outside the recipient's messaging day (stop times 270 / 272 / 273).
3. **Appointment services** (``appointment_booked`` / ``_rescheduled`` / ``_cancelled`` /
   ``_completed``) re-plan one appointment at once; the planner also catches changes made
   without them at release time.

Send times are computed in the recipient's time zone: "2 days before" a 10:00 appointment is
10:00 two days earlier on the client's wall clock, across daylight-saving changes too. "0 days"
means the start of the messaging day (setting 274) on the appointment's day.

Telehealth appointments get the two JaaS telehealth messages (with the meeting link) instead of
the standard reminder; both follow setting 773 like the standard reminder. A send time missed
because the appointment was booked (or moved) late is sent once, at once, if no later send time
of the same type is still ahead.

Modules: ``specs`` (types, send times, reasons, the Part 2 gate the dispatcher also calls),
``candidates`` (planning context, what should exist), ``planner`` (writing rows, the beat run),
``release`` (the checks at send time), ``services`` (what the EHR calls), ``schedules`` (beat).
Everything public is re-exported here: ``from messaging.automation import run_planner``.
"""

from __future__ import annotations

from messaging.automation.candidates import (
    Candidate,
    Context,
    appointment_candidates,
    client_channels,
    offsets_for,
    recipient_address,
    renewal_candidates,
    select_due,
    staff_channels,
)
from messaging.automation.planner import PlannerResult, automated_broadcast, plan, run_planner, write_rows
from messaging.automation.release import ReleaseVerdict, release_due, verdict_for
from messaging.automation.schedules import PLANNER_SCHEDULE_NAME, PLANNER_TASK, ensure_automation_schedules
from messaging.automation.services import (
    appointment_booked,
    appointment_cancelled,
    appointment_changed,
    appointment_completed,
    appointment_rescheduled,
    send_billing_statement,
    send_client_message,
    send_portal_password_change,
    send_staff_message,
)
from messaging.automation.specs import (
    ACTIVE_APPOINTMENT,
    AUTO_TYPES,
    BILLING,
    BOOKED,
    BOOKED_LOOKBACK,
    COMPLETED_LOOKBACK,
    END,
    INITIAL,
    JAAS_1,
    JAAS_2,
    OPEN,
    PLAN_AHEAD,
    PORTAL_PASSWORD,
    POST,
    RELEASE_BATCH,
    RENEWAL,
    RENEWALS,
    START,
    UPCOMING,
    AutoType,
    Offset,
    clinic_zone,
    day_start,
    enrolled,
    send_time,
    stamp,
)
from messaging.channels.registry import names as channel_names
from messaging.dispatch.checks import hie_block_reason
from messaging.exclusions import REVIVABLE, Why

__all__ = [
    "ACTIVE_APPOINTMENT",
    "AUTO_TYPES",
    "BILLING",
    "BOOKED",
    "BOOKED_LOOKBACK",
    "COMPLETED_LOOKBACK",
    "END",
    "INITIAL",
    "JAAS_1",
    "JAAS_2",
    "OPEN",
    "PLANNER_SCHEDULE_NAME",
    "PLANNER_TASK",
    "PLAN_AHEAD",
    "PORTAL_PASSWORD",
    "POST",
    "RELEASE_BATCH",
    "RENEWAL",
    "RENEWALS",
    "REVIVABLE",
    "START",
    "UPCOMING",
    "AutoType",
    "Candidate",
    "Context",
    "Offset",
    "PlannerResult",
    "ReleaseVerdict",
    "Why",
    "appointment_booked",
    "appointment_cancelled",
    "appointment_candidates",
    "appointment_changed",
    "appointment_completed",
    "appointment_rescheduled",
    "automated_broadcast",
    "channel_names",
    "client_channels",
    "clinic_zone",
    "day_start",
    "enrolled",
    "ensure_automation_schedules",
    "hie_block_reason",
    "offsets_for",
    "plan",
    "recipient_address",
    "release_due",
    "renewal_candidates",
    "run_planner",
    "select_due",
    "send_billing_statement",
    "send_client_message",
    "send_portal_password_change",
    "send_staff_message",
    "send_time",
    "staff_channels",
    "stamp",
    "verdict_for",
    "write_rows",
]
