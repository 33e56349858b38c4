"""Two-way SMS: a client's text, stored, linked and acted on.

``handle_inbound_text`` is the one handler behind the SMS channel's inbound webhook
(``messaging.channels.sms.inbound``), which reads the provider's fields into an ``InboundText``
(``messaging.channels.sms.keywords``: the keywords and what a text asks for live there):

1. store the text as an :class:`InboundMessage` (idempotent on the provider's message id), linked
   to the client (by the number it came from) and the most recent text we sent to that number, and
   through it the appointment;
2. opt-out keywords (STOP ...) put the number on the SMS Do-Not-Send list and mark the client
   "Replied STOP to texts"; opt-in keywords (START ...) lift that; HELP gets a short answer;
3. confirm / cancel answers set the appointment's *confirmation* (never its scheduling status) and
   tell staff (a cancel request writes the clinician's notice: :func:`notify_clinician`).

``appointment_reply`` is the effect shared with the voice reminder's "press 1 to confirm"
(``<Gather>``): the voice channel's Gather view calls it with the voice reply source.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from bounces import services as bounce_services
from clients.models import Appointment, AppointmentStatus, Client, ConfirmationStatus
from clients.services import sms_opted_out_set
from core import clock
from messaging.channels.sms.keywords import (  # noqa: F401  (InboundError, the word lists: re-exported)
    CONFIRM,
    CONFIRM_WORDS,
    DECLINE,
    DECLINE_WORDS,
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    InboundError,
    InboundText,
    Intent,
    confirm_words,
    decline_words,
    intent_of,
    normalised_word,
    parse_twilio_inbound,
)
from messaging.models import AppointmentReply, Delivery, InboundMessage, ReplySource, Status

logger = logging.getLogger(__name__)

REPLY_WINDOW = dt.timedelta(days=30)  # a text relates to what we sent this number within this time
ANSWER_STATUS = {CONFIRM: ConfirmationStatus.CONFIRMED, DECLINE: ConfirmationStatus.DECLINED}


@dataclass(frozen=True)
class InboundResult:
    message: InboundMessage
    created: bool
    reply: str = ""  # text of the TwiML <Message> answer, if any


# --- Linking ------------------------------------------------------------------------------------


def last_text_to(number: str, now: dt.datetime, channel: str) -> Delivery | None:
    """The most recent text we sent to ``number`` on ``channel`` (within ``REPLY_WINDOW``)."""
    return (
        Delivery.objects.filter(channel=channel, address=number, created_at__gte=now - REPLY_WINDOW)
        .exclude(status__in=[Status.SCHEDULED, Status.QUEUED, Status.SUPPRESSED, Status.CANCELLED])
        .select_related("client", "appointment")
        .order_by("-sent_at", "-created_at", "-id")
        .first()
    )


def client_with_cell(number: str) -> Client | None:
    return (
        Client.objects.filter(Q(cell_phone=number) | Q(messaging_contact__cell_phone=number))
        .order_by("-is_active", "id")
        .first()
    )


def next_appointment(client: Client, now: dt.datetime) -> Appointment | None:
    return (
        Appointment.objects.filter(client=client, status__in=[AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED])
        .filter(start__gt=now)
        .order_by("start", "id")
        .first()
    )


# --- The handler --------------------------------------------------------------------------------


def handle_inbound_sms(params: Mapping[str, str]) -> InboundResult:
    """Store and act on one inbound text given as Twilio's webhook fields (see :func:`handle_inbound_text`)."""
    return handle_inbound_text(parse_twilio_inbound(params))


def handle_inbound_text(text: InboundText) -> InboundResult:
    """Store and act on one inbound text. Idempotent on the provider's message id."""
    sid = text.provider_message_id
    existing = InboundMessage.objects.filter(provider_message_id=sid).first()
    if existing is not None:
        return InboundResult(message=existing, created=False)
    number, body = text.from_number, text.body
    intent = intent_of(body, text.opt_out_type)
    now = clock.now()
    delivery = last_text_to(number, now, text.channel)
    client = delivery.client if delivery is not None and delivery.client is not None else client_with_cell(number)
    appointment = delivery.appointment if delivery is not None else None
    if appointment is None and client is not None:
        appointment = next_appointment(client, now)
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                provider_message_id=sid,
                from_number=number,
                to_number=text.to_number,
                body=body,
                keyword=intent.keyword,
                client=client,
                delivery=delivery,
                appointment=appointment,
                received_at=now,
            )
            reply = _act(message, intent, now)
    except IntegrityError:
        # The same MessageSid arrived twice at once: the other request stored and handled it.
        return InboundResult(message=InboundMessage.objects.get(provider_message_id=sid), created=False)
    return InboundResult(message=message, created=True, reply=reply)


def _act(message: InboundMessage, intent: Intent, now: dt.datetime) -> str:
    evidence = f"Inbound SMS {message.provider_message_id}: {normalised_word(message.body)[:40]}"
    try:
        if intent.opt in ("STOP", "START"):
            sms_opt(phone=message.from_number, stop=intent.opt == "STOP", evidence=evidence)
    except ValidationError:
        # A number the Do-Not-Send list cannot hold (e.g. a short code): the text is still stored.
        logger.warning("inbound SMS %s: %s from a number that is not valid", message.pk, intent.opt)
    if intent.answer:
        return _answer(message, intent, now)
    if intent.opt == "HELP":
        return help_text()
    return ""


def sms_opt(*, phone: str, stop: bool, evidence: str) -> None:
    """STOP / START: the number goes on (or comes off) the SMS Do-Not-Send list and the clients with
    it as cell phone are marked (or cleared) "Replied STOP to texts", in one transaction."""
    with transaction.atomic():
        if stop:
            number = bounce_services.sms_opt_out(phone=phone, evidence=evidence).address
        else:
            bounce_services.sms_opt_in(phone=phone, evidence=evidence)
            number = bounce_services.normalise_phone(phone)
        sms_opted_out_set(phone=number, opted_out=stop, evidence=evidence)


def _answer(message: InboundMessage, intent: Intent, now: dt.datetime) -> str:
    appointment = message.appointment
    if appointment is None or not _answerable(appointment, now):
        appointment = next_appointment(message.client, now) if message.client is not None else None
        if appointment is not None and message.appointment_id != appointment.pk:
            InboundMessage.objects.filter(pk=message.pk).update(appointment=appointment)
            message.appointment = appointment
    if appointment is None:
        return "" if intent.opt == "STOP" else no_appointment_text()
    appointment_reply(
        appointment=appointment,
        answer=intent.answer,
        source=ReplySource.SMS,
        text=message.body,
        inbound=message,
        delivery=message.delivery,
    )
    if intent.opt == "STOP":
        return ""  # the number is opted out: Twilio sends its own opt-out confirmation only
    return reply_text(appointment, intent.answer)


def _answerable(appointment: Appointment, now: dt.datetime) -> bool:
    return appointment.status in (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED) and appointment.start > now


# --- The effect shared with voice "press 1" ---------------------------------------------------------


def answer_for_digits(digits: str) -> str:
    """What a keypad press in a voice reminder means: "1" confirms; other keys mean nothing.

    (The script offers only "press 1"; a stray key must never read as a cancel request.)
    """
    return CONFIRM if (digits or "").strip()[:1] == "1" else ""


def appointment_reply(
    *,
    appointment: Appointment,
    answer: str,
    source: str,
    text: str = "",
    inbound: InboundMessage | None = None,
    delivery: Delivery | None = None,
) -> AppointmentReply | None:
    """Record a client's answer about an appointment: confirmation status + a reply row for staff.

    ``answer`` is "confirm" or "decline"; ``source`` "sms", "voice" or "staff". Only
    ``Appointment.confirmation`` changes (never the scheduling status). A cancel request is
    e-mailed to the clinician. Returns None (and changes nothing) for an appointment that is
    cancelled or already started.
    """
    if answer not in ANSWER_STATUS:
        raise ValueError(f"unknown answer {answer!r}")
    now = clock.now()
    if not _answerable(appointment, now):
        return None
    status = ANSWER_STATUS[answer]
    with transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(confirmation=status, confirmation_at=now)
        reply = AppointmentReply.objects.create(
            appointment=appointment,
            answer=status,
            source=source,
            text=text[:320],
            inbound=inbound,
            delivery=delivery,
            received_at=now,
        )
        if answer == DECLINE:
            notify_clinician(reply_id=reply.pk)  # its delivery row commits with the reply
    appointment.confirmation, appointment.confirmation_at = status, now
    return reply


def notify_clinician(*, reply_id: int) -> bool:
    """Tell the appointment's clinician that a client asked to cancel (no client name: ids only).

    The notice is an automated message (type ``clinician-reply-notice``) with a delivery row, by
    the clinician's e-mail or else a text to their cell phone, so History, bounces and retries
    apply to it like to any message. Idempotent on the reply. False when nothing was written
    (already told, no clinician address, or the type switched off).
    """
    from messaging.automation import send_staff_message
    from messaging.automation.specs import CLINICIAN_REPLY

    reply = AppointmentReply.objects.select_related("appointment__clinician").filter(pk=reply_id).first()
    if reply is None or reply.appointment.clinician is None:
        return False
    appointment = reply.appointment
    written = send_staff_message(
        code=CLINICIAN_REPLY, user=appointment.clinician, appointment=appointment, idempotency_key=f"reply{reply.pk}"
    )
    return bool(written)


# --- Answers ------------------------------------------------------------------------------------


def help_text() -> str:
    from messaging.rendering import format_phone

    return (
        f"{settings.PRACTICE_NAME}: appointment reminders. For help call {format_phone(settings.PRACTICE_PHONE)}. "
        "Reply C to confirm, N to cancel, STOP to opt out."
    )


def no_appointment_text() -> str:
    from messaging.rendering import format_phone

    return (
        f"{settings.PRACTICE_NAME}: we could not find an upcoming appointment for this number. "
        f"Please call {format_phone(settings.PRACTICE_PHONE)}."
    )


def reply_text(appointment: Appointment, answer: str) -> str:
    from messaging.rendering import format_date, format_phone, format_time

    local = appointment.start.astimezone(appointment.client.zone)
    when = f"{format_date(local)} at {format_time(local)}"
    if answer == CONFIRM:
        return f"{settings.PRACTICE_NAME}: thank you, your appointment on {when} is confirmed."
    return (
        f"{settings.PRACTICE_NAME}: we received your request to cancel your appointment on {when}. "
        f"Our office will contact you. Questions: {format_phone(settings.PRACTICE_PHONE)}."
    )


# --- Voice: "press 1 to confirm" ----------------------------------------------------------------


def apply_gather_event(event_id: int) -> AppointmentReply | None:
    """Apply one keypad press the voice webhook stored (ProviderEvent ``event_type="gather"``).

    Exactly once: the event is marked applied by compare-and-set before its effect, so the
    webhook and the planner's catch-up (``apply_gather_events``) never both apply it.
    """
    from messaging.models import ProviderEvent

    with transaction.atomic():
        if not ProviderEvent.objects.filter(pk=event_id, event_type="gather", applied=False).update(applied=True):
            return None
        event = ProviderEvent.objects.select_related("delivery__appointment__client").get(pk=event_id)
        delivery = event.delivery
        answer = answer_for_digits(event.status)
        if delivery is None or delivery.appointment is None or not answer:
            return None
        return appointment_reply(
            appointment=delivery.appointment,
            answer=answer,
            source=ReplySource.VOICE,
            text=f"Pressed {event.status[:8]}",
            delivery=delivery,
        )


def apply_gather_events(*, limit: int = 200) -> int:
    """Apply keypad presses not applied yet (run by the planner each minute); returns how many."""
    from messaging.models import ProviderEvent

    ids = ProviderEvent.objects.filter(event_type="gather", applied=False).values_list("pk", flat=True)[:limit]
    return sum(1 for pk in list(ids) if apply_gather_event(pk) is not None)
