"""Services the rest of the EHR calls: appointment changes and messages sent by code.

Call the appointment services (``appointment_booked`` / ``_rescheduled`` / ``_cancelled`` /
``_completed``, or ``appointment_changed`` to route a save) from every place that books or changes
appointments: they re-plan one appointment at once (the planner also catches changes made without
them, at release time). ``send_billing_statement`` / ``send_portal_password_change`` write and
release one message at once, with the planner's checks.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from clients.models import Appointment, AppointmentStatus, Client
from core import clock
from messaging.automation.candidates import Candidate, Context, appointment_candidates, client_channels, staff_channels
from messaging.automation.planner import _Broadcasts, _cancel, _new_row, plan
from messaging.automation.release import _appointment_state_reason, _membership_reason, release_due
from messaging.automation.specs import BILLING, OPEN, PORTAL_PASSWORD, Offset, clinic_zone
from messaging.content import Versions
from messaging.exclusions import Why
from messaging.models import Delivery, MessageType, OffsetUnit, RecipientType, Status

# --- Appointment services (call them from every place that books or changes appointments) ---------


def appointment_booked(appointment: Appointment) -> int:
    """A new appointment: plan its messages now (an initial appointment's confirmation goes at once)."""
    return _replan(appointment)


def appointment_rescheduled(appointment: Appointment) -> int:
    """The appointment moved (or changed): pending messages for the old time are cancelled and
    the new time planned. Messages already sent stay in History."""
    return _replan(appointment)


def appointment_cancelled(appointment: Appointment) -> int:
    """Cancel every automated message of the appointment that has not gone out; returns how many."""
    now = clock.now()
    reason = Why.NO_SHOW if appointment.status == AppointmentStatus.NO_SHOW else Why.CANCELLED
    rows = Delivery.objects.filter(appointment=appointment, broadcast__automated=True, dedupe_key__startswith="appt:")
    return _cancel(rows, reason, now)


def appointment_completed(appointment: Appointment) -> int:
    """The appointment took place: plan the post-appointment message (setting 780)."""
    return _replan(appointment)


def appointment_changed(*, appointment: Appointment, before: Appointment | None) -> int:
    """Route an appointment save to the right service (the admin and other editors call this)."""
    if before is None:
        return appointment_booked(appointment)
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        return appointment_cancelled(appointment)
    if appointment.status == AppointmentStatus.COMPLETED and before.status != AppointmentStatus.COMPLETED:
        return appointment_completed(appointment)
    watched = ("start", "end", "status", "is_telehealth", "meeting_link", "is_initial", "client_id", "clinician_id")
    if any(getattr(before, f) != getattr(appointment, f) for f in watched):
        return appointment_rescheduled(appointment)
    return 0


@transaction.atomic
def _replan(appointment: Appointment) -> int:
    ctx = Context.load()
    fresh = Appointment.objects.select_related(
        "client__messaging", "client__messaging_contact", "clinician__staff_profile"
    ).get(pk=appointment.pk)
    wanted = {c.key for c in appointment_candidates(fresh, ctx)}
    stale = Delivery.objects.filter(
        appointment=fresh, broadcast__automated=True, status__in=OPEN, dedupe_key__startswith="appt:"
    ).exclude(dedupe_key__in=wanted)
    cancelled = 0
    for delivery in stale.select_related("message_type"):
        key = delivery.dedupe_key or ""
        reason = _appointment_state_reason(delivery, key, ctx) or _membership_reason(delivery, ctx) or Why.CHANGED
        cancelled += _cancel(Delivery.objects.filter(pk=delivery.pk), reason, ctx.now)
    planned = plan(ctx, appointments=[fresh])
    due_ids = list(
        Delivery.objects.filter(
            appointment=fresh, status=Status.SCHEDULED, broadcast__automated=True, next_attempt_at__lte=ctx.now
        ).values_list("pk", flat=True)
    )
    if due_ids:
        release_due(ctx, ids=due_ids)
    return planned + cancelled


# --- Messages other parts of the EHR send by code --------------------------------------------------


def send_billing_statement(*, client: Client, idempotency_key: str = "") -> list[Delivery]:
    """Send the Billing Statement message (text of setting 182) by the client's preferred method.

    ``idempotency_key`` (e.g. the statement id) makes a repeated call send nothing new.
    """
    return send_client_message(code=BILLING, client=client, idempotency_key=idempotency_key)


def send_portal_password_change(*, client: Client, idempotency_key: str = "") -> list[Delivery]:
    """Send the Portal Password Change message (text of setting 371) by the preferred method."""
    return send_client_message(code=PORTAL_PASSWORD, client=client, idempotency_key=idempotency_key)


def send_client_message(*, code: str, client: Client, idempotency_key: str = "") -> list[Delivery]:
    """Write and release one automated message of type ``code`` to ``client`` now.

    Goes by the client's preferred contact method, with the same checks as the planner's
    (consent, address, Do-Not-Send, Part 2). Returns the deliveries written (none without consent
    or when the type is inactive).
    """
    channels = client_channels(client, Offset(0, OffsetUnit.MINUTES))
    base = f"svc:{code}:{client.pk}:{idempotency_key}" if idempotency_key else ""
    return _send_now(code, channels, base, recipient_type=RecipientType.CLIENT, client=client)


def send_staff_message(
    *, code: str, user: Any, appointment: Appointment | None = None, idempotency_key: str = ""
) -> list[Delivery]:
    """Write and release one automated message of type ``code`` to a staff user now: by e-mail, or a
    text to their cell phone without one (the channels' staff defaults). Like every message it has a
    delivery row first, so History, bounces and retries apply (the clinician's reply notice)."""
    base = f"svc:{code}:user{user.pk}:{idempotency_key}" if idempotency_key else ""
    return _send_now(
        code, staff_channels(user), base, recipient_type=RecipientType.STAFF, user=user, appointment=appointment
    )


def _send_now(code: str, channels: list[str], base: str, **recipient: Any) -> list[Delivery]:
    """Write one row per channel (idempotent on ``base`` + channel, when given) and release them."""
    mt = MessageType.objects.filter(code=code, active=True).first()
    if mt is None:
        return []
    ctx = Context.load()
    ctx.all_types[code] = mt
    now = ctx.now
    written: list[Delivery] = []
    with transaction.atomic():
        broadcasts, versions = _Broadcasts(ctx), Versions()
        for channel in channels:
            key = f"{base}:{channel}"[:200] if base else None
            candidate = Candidate(
                key=key or "", code=code, offset=Offset(0, OffsetUnit.MINUTES), due=now, channel=channel, **recipient
            )
            broadcast = broadcasts.get(mt, now.astimezone(clinic_zone()).date(), channel, now)
            row = _new_row(candidate, now, broadcast, now, versions)
            row.dedupe_key = key
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                continue  # this message was already written on this channel
            written.append(row)
        if written:
            release_due(ctx, ids=[d.pk for d in written])
    for delivery in written:
        delivery.refresh_from_db()
    return written
