"""Two-way SMS: the signed inbound webhook, keywords, confirm/cancel answers, and voice "press 1"."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.conf import settings
from django.core import mail
from twilio.request_validator import RequestValidator

from bounces.models import DoNotSendEntry
from clients.models import (
    AppointmentStatus,
    ConfirmationStatus,
    MessagingProfile,
    ProfileChange,
)
from clients.tests.factories import make_appointment, make_client, make_clinician
from core import clock
from messaging import dispatch, inbound
from messaging.models import AppointmentReply, Broadcast, Delivery, InboundMessage, MessageType, ProviderEvent, Status
from messaging.tests.dispatch_support import _fresh_rate_limits

__all__ = ["_fresh_rate_limits"]

pytestmark = pytest.mark.django_db

URL = "/webhooks/twilio/sms/inbound/"
NY = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2025, 6, 2, 12, 0, tzinfo=NY)
OUR_NUMBER = "+16175550100"
_sids = {"n": 0}


@pytest.fixture(autouse=True)
def frozen():
    with clock.freeze(NOW) as f:
        yield f


def dispatch_due() -> None:
    """Send what is due now through the dispatcher (e-mail goes to Django's test outbox)."""
    for claim in dispatch.claim_due(now=clock.now()):
        dispatch.send_claimed(claim.ids, claim.token)


def sign(path: str, params: dict[str, str]) -> str:
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(settings.PUBLIC_BASE_URL + path, params)


def text_in(client, body: str, *, sender: str, opt_out_type: str = "", sid: str = "", signed: bool = True):
    _sids["n"] += 1
    params = {
        "MessageSid": sid or f"SM{_sids['n']:032d}",
        "AccountSid": settings.TWILIO_ACCOUNT_SID,
        "From": sender,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    if opt_out_type:
        params["OptOutType"] = opt_out_type
    headers = {"HTTP_X_TWILIO_SIGNATURE": sign(URL, params)} if signed else {}
    return client.post(URL, params, **headers)


def reminder_sent(patient, appointment) -> Delivery:
    mt = MessageType.objects.get(code="client-upcoming-appointment")
    broadcast = Broadcast.objects.create(message_type=mt, broadcast_at=NOW, automated=True, channels=["sms"])
    return Delivery.objects.create(
        broadcast=broadcast,
        message_type=mt,
        channel="sms",
        client=patient,
        appointment=appointment,
        address=str(patient.cell_phone),
        status=Status.DELIVERED,
        sent_at=NOW - dt.timedelta(hours=1),
        created_at=NOW - dt.timedelta(hours=1),
    )


@pytest.fixture
def booked():
    patient = make_client()
    clinician = make_clinician("dr")
    clinician.email = "dr@example.org"
    clinician.save()
    appointment = make_appointment(patient, start=NOW + dt.timedelta(days=2), clinician=clinician)
    delivery = reminder_sent(patient, appointment)
    return patient, appointment, delivery


def twiml_message(response) -> str:
    body = response.content.decode()
    assert response["Content-Type"].startswith("text/xml") and body.startswith("<?xml")
    return body.split("<Message>", 1)[1].split("</Message>", 1)[0] if "<Message>" in body else ""


# --- authentication and bad input -------------------------------------------------------------------


def test_unsigned_or_wrongly_signed_requests_are_refused_without_storing(client, booked):
    patient, _, _ = booked
    assert text_in(client, "C", sender=str(patient.cell_phone), signed=False).status_code == 403
    response = client.post(
        URL,
        {"MessageSid": "SMx", "From": str(patient.cell_phone), "Body": "C"},
        HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl",
    )
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0


def test_malformed_payload_is_a_400_and_changes_nothing(client):
    params = {"From": "+16175551234", "Body": "C"}  # no MessageSid
    response = client.post(URL, params, HTTP_X_TWILIO_SIGNATURE=sign(URL, params))
    assert response.status_code == 400
    params = {"MessageSid": "SM1", "From": "not a number", "Body": "C"}
    assert client.post(URL, params, HTTP_X_TWILIO_SIGNATURE=sign(URL, params)).status_code == 400
    assert client.get(URL).status_code == 405
    assert InboundMessage.objects.count() == 0


# --- confirm / cancel ------------------------------------------------------------------------------


def test_confirm_reply_is_linked_and_confirms_without_touching_the_status(client, booked):
    patient, appointment, delivery = booked
    response = text_in(client, " c. ", sender=str(patient.cell_phone))
    assert response.status_code == 200
    assert "is confirmed" in twiml_message(response)
    message = InboundMessage.objects.get()
    assert (message.client, message.delivery, message.appointment) == (patient, delivery, appointment)
    assert message.keyword == "CONFIRM" and message.to_number == OUR_NUMBER
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.CONFIRMED and appointment.confirmation_at == NOW
    assert appointment.status == AppointmentStatus.SCHEDULED
    (reply,) = AppointmentReply.objects.all()
    assert reply.inbound == message and reply.source == "sms" and reply.delivery == delivery


def test_a_retried_webhook_is_applied_once(client, booked):
    patient, _, _ = booked
    first = text_in(client, "YES", sender=str(patient.cell_phone), sid="SM" + "7" * 32)
    again = text_in(client, "YES", sender=str(patient.cell_phone), sid="SM" + "7" * 32)
    assert first.status_code == again.status_code == 200
    assert twiml_message(again) == ""
    assert InboundMessage.objects.count() == 1 and AppointmentReply.objects.count() == 1


def test_cancel_request_marks_declined_and_emails_the_clinician_without_the_clients_name(
    client, booked, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("messaging.dispatch.kick_sweeper", lambda: None)
    patient, appointment, _ = booked
    with django_capture_on_commit_callbacks(execute=True):
        response = text_in(client, "N", sender=str(patient.cell_phone))
    assert "request to cancel" in twiml_message(response)
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.DECLINED
    assert appointment.status == AppointmentStatus.SCHEDULED  # staff decide
    # The notice is a message like any other: a delivery row to the clinician, before any e-mail.
    (notice,) = Delivery.objects.filter(message_type__code="clinician-reply-notice")
    assert (notice.user, notice.channel, notice.status) == (appointment.clinician, "email", Status.QUEUED)
    assert not mail.outbox
    dispatch_due()
    (email,) = mail.outbox
    assert email.to == ["dr@example.org"] and "asked to cancel" in email.subject
    assert patient.last_name not in email.body and patient.first_name not in email.body
    assert f"#{appointment.pk}" in email.body and "/messaging/appointments/" in email.body
    notice.refresh_from_db()
    assert notice.status == Status.SENT
    # The same reply never notifies twice (e.g. a task queued by an older version).
    from messaging.inbound import notify_clinician

    assert notify_clinician(reply_id=AppointmentReply.objects.get().pk) is False


def test_configurable_confirm_words(client, booked, settings):
    settings.SMS_CONFIRM_WORDS = ["SI", "OUI"]
    patient, appointment, _ = booked
    text_in(client, "Sí", sender=str(patient.cell_phone))  # not in the list: stored only
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.NONE
    text_in(client, "oui", sender=str(patient.cell_phone))
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.CONFIRMED


def test_free_text_is_stored_for_staff_and_changes_nothing(client, booked):
    patient, appointment, _ = booked
    response = text_in(client, "Running 10 min late", sender=str(patient.cell_phone))
    assert twiml_message(response) == ""
    message = InboundMessage.objects.get()
    assert message.keyword == "" and message.appointment == appointment and message.body == "Running 10 min late"
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.NONE and not AppointmentReply.objects.exists()


def test_answer_for_a_cancelled_appointment_goes_to_the_next_one_or_nowhere(client, booked):
    patient, appointment, _ = booked
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    response = text_in(client, "C", sender=str(patient.cell_phone))
    assert "could not find an upcoming appointment" in twiml_message(response)
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.NONE
    later = make_appointment(patient, start=NOW + dt.timedelta(days=5))
    text_in(client, "C", sender=str(patient.cell_phone))
    later.refresh_from_db()
    assert later.confirmation == ConfirmationStatus.CONFIRMED


def test_text_from_an_unknown_number_is_kept_unlinked(client):
    response = text_in(client, "C", sender="+16175559999")
    assert response.status_code == 200 and "could not find" in twiml_message(response)
    message = InboundMessage.objects.get()
    assert message.client is None and message.delivery is None and message.appointment is None


def test_reply_without_a_recent_text_links_by_cell_phone_and_next_appointment(client):
    patient = make_client()
    appointment = make_appointment(patient, start=NOW + dt.timedelta(days=1))
    text_in(client, "1", sender=str(patient.cell_phone))
    message = InboundMessage.objects.get()
    assert message.client == patient and message.delivery is None and message.appointment == appointment
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.CONFIRMED


# --- STOP / START / HELP ---------------------------------------------------------------------------


def test_stop_opts_out_with_the_message_as_evidence(client, booked):
    patient, appointment, _ = booked
    response = text_in(client, "Stop", sender=str(patient.cell_phone), opt_out_type="STOP")
    assert response.status_code == 200 and twiml_message(response) == ""
    entry = DoNotSendEntry.objects.get(channel="sms", address=str(patient.cell_phone), active=True)
    assert entry.reason == "sms_stop" and InboundMessage.objects.get().provider_message_id in entry.note
    assert MessagingProfile.objects.get(client=patient).sms_opted_out
    change = ProfileChange.objects.get(client=patient, field="sms_opted_out")
    assert change.source == "sms-keyword" and "Inbound SMS SM" in change.evidence
    assert InboundMessage.objects.get().keyword == "STOP"

    response = text_in(client, "START", sender=str(patient.cell_phone), opt_out_type="START")
    assert not DoNotSendEntry.objects.filter(channel="sms", address=str(patient.cell_phone), active=True).exists()
    assert not MessagingProfile.objects.get(client=patient).sms_opted_out
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.NONE  # START is not YES


def test_cancel_is_twilios_opt_out_keyword_too(client, booked):
    """Without OptOutType we follow Twilio's default list: CANCEL opts out *and* asks to cancel."""
    patient, appointment, _ = booked
    response = text_in(client, "CANCEL", sender=str(patient.cell_phone))
    assert twiml_message(response) == ""  # opted out: Twilio's own confirmation is the only answer
    assert MessagingProfile.objects.get(client=patient).sms_opted_out
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.DECLINED
    assert InboundMessage.objects.get().keyword == "STOP"


def test_twilio_opt_out_type_is_authoritative(client, booked):
    patient, appointment, _ = booked
    text_in(client, "please stop texting", sender=str(patient.cell_phone), opt_out_type="STOP")  # Advanced Opt-Out
    assert MessagingProfile.objects.get(client=patient).sms_opted_out
    MessagingProfile.objects.filter(client=patient).update(sms_opted_out=False)
    DoNotSendEntry.objects.update(active=False)
    text_in(client, "YES", sender=str(patient.cell_phone), opt_out_type="START")
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.CONFIRMED  # YES: opt-in and confirm


def test_help_is_answered(client, booked):
    patient, _, _ = booked
    response = text_in(client, "help", sender=str(patient.cell_phone), opt_out_type="HELP")
    answer = twiml_message(response)
    assert settings.PRACTICE_NAME in answer and "STOP" in answer
    assert InboundMessage.objects.get().keyword == "HELP"


def test_intent_of_keywords():
    assert inbound.intent_of("stop") == inbound.Intent("STOP", "STOP", "")
    assert inbound.intent_of("Cancel!") == inbound.Intent("STOP", "STOP", "decline")
    assert inbound.intent_of("yes", "START") == inbound.Intent("START", "START", "confirm")
    assert inbound.intent_of("c") == inbound.Intent("CONFIRM", "", "confirm")
    assert inbound.intent_of("2") == inbound.Intent("DECLINE", "", "decline")
    assert inbound.intent_of("stop it", "") == inbound.Intent("", "", "")
    assert inbound.intent_of("anything", "STOP").opt == "STOP"


# --- voice: press 1 -----------------------------------------------------------------------------------


def test_voice_press_1_confirms_once(booked):
    patient, appointment, _ = booked
    mt = MessageType.objects.get(code="client-upcoming-appointment")
    call = Delivery.objects.create(
        broadcast=Broadcast.objects.first(),
        message_type=mt,
        channel="voice",
        client=patient,
        appointment=appointment,
        address=str(patient.cell_phone),
        status=Status.SENDING,
    )
    event = ProviderEvent.objects.create(
        delivery=call, provider="twilio", event_id="CA1:gather", event_type="gather", status="1"
    )
    reply = inbound.apply_gather_event(event.pk)
    assert reply is not None and reply.source == "voice" and reply.delivery == call
    assert inbound.apply_gather_event(event.pk) is None  # already applied
    assert inbound.apply_gather_events() == 0
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.CONFIRMED and appointment.status == "scheduled"
    assert inbound.answer_for_digits("2") == "" and inbound.answer_for_digits("1#") == "confirm"


def test_planner_applies_pending_keypad_presses(booked):
    from messaging.automation import run_planner

    patient, appointment, delivery = booked
    ProviderEvent.objects.create(
        delivery=delivery, provider="twilio", event_id="CA2:gather", event_type="gather", status="1"
    )
    ProviderEvent.objects.create(
        delivery=delivery, provider="twilio", event_id="CA3:gather", event_type="gather", status="9"
    )
    run_planner()
    appointment.refresh_from_db()
    assert appointment.confirmation == ConfirmationStatus.CONFIRMED
    assert not ProviderEvent.objects.filter(event_type="gather", applied=False).exists()


def test_stop_and_start_mark_every_client_with_the_cell_phone() -> None:
    from bounces.services import address_suppression
    from clients.models import ProfileChange
    from messaging.inbound import sms_opt

    client = make_client(cell_phone="+16175550177")
    other = make_client(cell_phone="+16175550178")
    sms_opt(phone="617-555-0177", stop=True, evidence="SM123 STOP")
    client.messaging.refresh_from_db()
    other.messaging.refresh_from_db()
    assert client.messaging.sms_opted_out is True
    assert other.messaging.sms_opted_out is False
    change = ProfileChange.objects.get(client=client, field="sms_opted_out")
    assert change.source == "sms-keyword" and change.evidence == "SM123 STOP"
    assert address_suppression("sms", "+16175550177") is not None

    sms_opt(phone="+16175550177", stop=False, evidence="SM124 START")
    client.messaging.refresh_from_db()
    assert client.messaging.sms_opted_out is False
    assert address_suppression("sms", "+16175550177") is None
