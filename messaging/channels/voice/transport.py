"""Voice reminders through Twilio's Calls API (``client.calls.create``) with TwiML from ``VoiceResponse``.

How a call goes:

1. ``calls.create`` with Caller ID (setting 269, else ``TWILIO_FROM_NUMBER``), answering-machine
   detection ``DetectMessageEnd`` and our TwiML URL. Detection is *synchronous*: Twilio asks for
   the TwiML only once it knows who answered — after the greeting's beep for a machine — and
   tells us ``AnsweredBy``. So nothing is ever played to a machine of a client who does not allow
   voicemail (the TwiML is just ``<Hangup/>``), and no mid-call REST update is needed (with
   asynchronous detection the message would already be playing when the verdict arrives).
2. The TwiML (:func:`build_twiml`): ``<Say voice language>`` of the rendered script, or ``<Play>``
   of the template's recorded audio from an expiring signed URL; for appointment messages
   answered by a person, wrapped in ``<Gather numDigits="1">`` ("press 1 to confirm").
3. Status callbacks (answered, completed) move the delivery on; busy / no-answer / failed calls
   are redialled, then resent (``messaging.outcomes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from django.conf import settings
from django.core import signing
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from messaging.channels.base import SendResult, Transport, TransportError, public_url, refusal
from messaging.channels.sms.transport import twilio_client
from messaging.channels.twilio.errors import classify_sms_error, from_network_error, from_twilio_exception

if TYPE_CHECKING:
    from messaging.models import Delivery
    from messaging.rendering import Rendered

AUDIO_SALT = "messaging.voice.audio"
AUDIO_MAX_AGE_SECONDS = 2 * 60 * 60
RING_TIMEOUT_SECONDS = 30
CALL_TIME_LIMIT_SECONDS = 240
STATUS_EVENTS = ["answered", "completed"]
MACHINE_PREFIX = "machine"


def caller_id() -> str:
    from messaging.system_settings import get_setting

    return str(get_setting(269) or "") or settings.TWILIO_FROM_NUMBER


def audio_url(delivery: Delivery) -> str:
    """An absolute, signed URL for the template's recording that expires after two hours."""
    signed = signing.TimestampSigner(salt=AUDIO_SALT).sign(delivery.token)
    return settings.PUBLIC_BASE_URL + reverse("webhooks:voice-audio", args=[signed])


def token_from_audio_signature(signed: str) -> str | None:
    try:
        return signing.TimestampSigner(salt=AUDIO_SALT).unsign(signed, max_age=AUDIO_MAX_AGE_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return None


def offers_confirmation(delivery: Delivery) -> bool:
    return bool(delivery.appointment_id) and delivery.message_type.is_appointment_based


def build_twiml(delivery: Delivery, rendered: Rendered, *, answered_by: str = "", voicemail_ok: bool = True) -> str:
    """The call's TwiML for who answered: the message, the message with a key press, or a hang-up."""
    response = VoiceResponse()
    machine = answered_by.startswith(MACHINE_PREFIX)
    if answered_by == "fax" or (machine and not voicemail_ok):
        response.hangup()
        return str(response)
    if offers_confirmation(delivery) and not machine:
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            timeout=6,
            action=public_url("webhooks:voice-gather", delivery.token),
            method="POST",
        )
        _speak(gather, delivery, rendered)
    else:
        _speak(response, delivery, rendered)
    response.hangup()
    return str(response)


def _speak(verb: VoiceResponse, delivery: Delivery, rendered: Rendered) -> None:
    if rendered.voice_audio_url:
        verb.play(audio_url(delivery))
    else:
        voice, language = tts_voice(delivery)
        verb.say(rendered.voice_script, voice=voice, language=language)


def tts_voice(delivery: Delivery) -> tuple[str, str]:
    """The text-to-speech voice and language for the language the script is written in (its
    template version's; ``TWILIO_TTS_VOICES``), else the default voice."""
    version = delivery.template_version if delivery.template_version_id else None
    chosen = settings.TWILIO_TTS_VOICES.get(version.language) if version is not None else None
    if chosen is None or len(chosen) != 2:
        return settings.TWILIO_TTS_VOICE, settings.TWILIO_TTS_LANGUAGE
    return chosen[0], chosen[1]


class VoiceTransport(Transport):
    channel = "voice"

    def send(self, delivery: Delivery, rendered: Rendered) -> SendResult:
        if not (rendered.voice_script or "").strip() and not rendered.voice_audio_url:
            raise _empty_message()
        params = {
            "to": delivery.address,
            "from_": caller_id(),
            "url": public_url("webhooks:voice-twiml", delivery.token),
            "method": "POST",
            "status_callback": public_url("webhooks:voice-status", delivery.token),
            "status_callback_event": STATUS_EVENTS,
            "status_callback_method": "POST",
            "machine_detection": "DetectMessageEnd",
            "timeout": RING_TIMEOUT_SECONDS,
            "time_limit": CALL_TIME_LIMIT_SECONDS,
        }
        try:
            call = twilio_client().calls.create(**params)
        except TwilioRestException as exc:
            # Twilio's 21xxx request errors (invalid number, geo permission, …) mean the same for
            # Messages and Calls, so the SMS error table classifies a refused call too.
            raise from_twilio_exception(exc, classify_sms_error) from exc
        except requests.RequestException as exc:
            raise from_network_error(exc) from exc
        return SendResult(
            provider_message_id=call.sid,
            response={"sid": call.sid, "status": call.status},
            request={"to": delivery.address, "caller_id": params["from_"], "audio": bool(rendered.voice_audio_url)},
        )


def _empty_message() -> TransportError:
    return refusal(
        "The voice template has neither a script nor a recording", "Bad-Configuration", code="empty", ours=True
    )
