"""Twilio call webhooks: the TwiML for an answered call, status callbacks, key presses, audio.

* ``POST /webhooks/twilio/voice/<token>/twiml`` – asked once the call is answered (after the
  beep for a machine, because detection is synchronous); answers the message or ``<Hangup/>``.
* ``POST /webhooks/twilio/voice/<token>/status`` – answered / completed / busy / no-answer /
  failed; moves the delivery on (redial, resend or final state via ``messaging.outcomes``). A
  machine that answered where no voicemail may be left (:func:`voicemail_ok`) ends the delivery
  as suppressed, "Not left: voicemail not allowed for this client": no bounce.
* ``POST /webhooks/twilio/voice/<token>/gather`` – the key pressed at "press 1 to confirm"; kept
  as a ProviderEvent (``event_type="gather"``, once per call) and handed to
  ``messaging.inbound.apply_gather_event`` (the appointment's confirmation).
* ``GET /webhooks/voice/audio/<signed>/`` – the template's recording, for ``<Play>``; the signed
  value expires (``AUDIO_MAX_AGE_SECONDS``).
"""

from __future__ import annotations

from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST
from twilio.twiml.voice_response import VoiceResponse

from bounces.taxonomy import Classification
from messaging.channels.twilio.webhooks import twilio_signature_required
from messaging.channels.voice.errors import classify_call
from messaging.channels.voice.transport import MACHINE_PREFIX, build_twiml, token_from_audio_signature
from messaging.channels.webhook_support import delivery_for_token, form_payload, ok
from messaging.languages import template_variant
from messaging.models import Delivery, ProviderEvent, Status, TemplateVersion
from messaging.outcomes import delivery_apply_status
from messaging.rendering import recipient_wants
from messaging.system_settings import get_setting

IN_PROGRESS = {"queued", "initiated", "ringing", "in-progress", "answered"}
VOICEMAIL_DEFAULT_SETTING = 267  # "OK to leave voicemail" for clients whose chart says "Clinic default"
YES, NO = "yes", "no"  # a client's own answer (clients.models.VoicemailChoice; channels import no clients)
REDIAL_STATUSES = {"busy", "no-answer", "failed"}


# A call a machine answered where no voicemail may be left: a final status with this reason, not a
# bounce (no category, nothing on the Do-Not-Send list, no resend).
VOICEMAIL_NOT_ALLOWED = "Not left: voicemail not allowed for this client"


def voicemail_ok(delivery: Delivery) -> bool:
    """Whether the message may be left on an answering machine.

    A client's own "OK to leave voicemail" (Yes / No) decides; "Clinic default" follows setting 267
    (Yes unless changed), and only for a client who gave messaging consent. Staff reminders may
    always go to voicemail.
    """
    if delivery.client_id is None:
        return True
    profile = getattr(delivery.client, "messaging", None)
    if profile is None or not profile.consent_given:
        return False
    choice = str(profile.voicemail_ok)
    if choice in (YES, NO):
        return choice == YES
    return bool(get_setting(VOICEMAIL_DEFAULT_SETTING))


def twiml_response(twiml: str) -> HttpResponse:
    return HttpResponse(twiml, content_type="text/xml")


@require_POST
@twilio_signature_required
def voice_twiml(request: HttpRequest, token: str) -> HttpResponse:
    from messaging.content import rendered_for as render_delivery

    delivery = delivery_for_token(token, "voice")
    if delivery is None or delivery.status in (Status.CANCELLED, Status.SUPPRESSED):
        response = VoiceResponse()
        response.hangup()
        return twiml_response(str(response))
    answered_by = request.POST.get("AnsweredBy", "")
    twiml = build_twiml(
        delivery, render_delivery(delivery), answered_by=answered_by, voicemail_ok=voicemail_ok(delivery)
    )
    return twiml_response(twiml)


@require_POST
@twilio_signature_required
def voice_status(request: HttpRequest, token: str) -> HttpResponse:
    delivery = delivery_for_token(token, "voice")
    call_sid = request.POST.get("CallSid", "")
    call_status = request.POST.get("CallStatus", "").lower()
    if delivery is None or not call_sid or not call_status:
        return ok()
    answered_by = request.POST.get("AnsweredBy", "")
    status, classification, redial = call_outcome(delivery, call_status, answered_by)
    with transaction.atomic():
        changed = delivery_apply_status(
            delivery_id=delivery.pk,
            status=status,
            provider="twilio",
            event_id=f"{call_sid}:{call_status}",
            event_type=f"call-{call_status}",
            payload=form_payload(request.POST),
            classification=classification,
            provider_message_id=call_sid,
            redial=redial,
        )
        if changed and status == Status.SUPPRESSED:  # the reason, and no category an earlier attempt left
            Delivery.objects.filter(pk=delivery.pk, status=Status.SUPPRESSED).update(
                status_reason=VOICEMAIL_NOT_ALLOWED, bounce_category="", hard_bounce=None
            )
    return ok()


def call_outcome(delivery: Delivery, call_status: str, answered_by: str) -> tuple[str, Classification | None, bool]:
    """(our status, failure classification, may redial) for a Twilio call status."""
    if call_status in IN_PROGRESS:
        return Status.SENT, None, False
    classification = classify_call(call_status, answered_by or None)
    if classification is not None:
        return Status.FAILED, classification, call_status in REDIAL_STATUSES
    if call_status == "completed" and answered_by.startswith(MACHINE_PREFIX) and not voicemail_ok(delivery):
        # The TwiML hung up on the machine: nothing was left, by the client's (or the clinic's) choice.
        return Status.SUPPRESSED, None, False
    return Status.DELIVERED, None, False


@require_POST
@twilio_signature_required
def voice_gather(request: HttpRequest, token: str) -> HttpResponse:
    delivery = delivery_for_token(token, "voice")
    digits = request.POST.get("Digits", "")[:8]
    call_sid = request.POST.get("CallSid", "")
    response = VoiceResponse()
    if delivery is not None and call_sid:
        event, created = ProviderEvent.objects.get_or_create(
            provider="twilio",
            event_id=f"{call_sid}:gather",
            defaults={
                "delivery": delivery,
                "event_type": "gather",
                "status": digits,
                "payload": form_payload(request.POST),
                "applied": False,
            },
        )
        if created:
            from messaging.inbound import apply_gather_event  # the appointment confirmation (issue 6)

            apply_gather_event(event.pk)
    if digits == "1":
        response.say("Thank you. Your confirmation was received. Goodbye.")
    else:
        response.say("Thank you. Goodbye.")
    response.hangup()
    return twiml_response(str(response))


@require_GET
def voice_audio(request: HttpRequest, signed: str) -> FileResponse:
    """The recording of the delivery's voice template, for a URL Twilio got minutes ago."""
    token = token_from_audio_signature(signed)
    delivery = delivery_for_token(token or "", "voice")
    if delivery is None:
        raise Http404("No such recording")
    # The recording of the version the message was made from (fixed when it was created): a recording
    # uploaded since then is for later messages. Rows made before versions existed use the template's.
    version = TemplateVersion.objects.filter(pk=delivery.template_version_id).first()
    audio = version.voice_audio if version is not None else None
    if not audio:
        template = template_variant(delivery.message_type_id, "voice", recipient_wants(delivery))
        audio = template.voice_audio if template is not None and version is None else None
    if not audio:
        raise Http404("No such recording")
    return FileResponse(audio.open("rb"), filename=audio.name.rsplit("/", 1)[-1])
