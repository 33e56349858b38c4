"""Voice reminders: TwiML, answering-machine handling, redials, key presses, the recording URL."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from xml.etree import ElementTree

import pytest
from django.core import signing
from django.core.files.base import ContentFile

from clients.models import MessagingProfile
from clients.tests.factories import make_appointment, make_client
from messaging import dispatch
from messaging.channels.voice.transport import AUDIO_SALT, build_twiml
from messaging.models import Attempt, Delivery, MessageTemplate, ProviderEvent, Status
from messaging.rendering import Rendered
from messaging.services_settings import setting_update
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    live_callbacks,
    make_delivery,
    refreshed,
    twilio_post,
    twilio_sim,
)
from messaging.tests.webhook_contract import WebhookContract

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "live_callbacks", "twilio_sim"]

SCRIPT = Rendered(voice_script="Hello, this is a reminder. To confirm, press 1.")


def appointment_delivery(cell: str = "", **profile: Any) -> Delivery:
    client = make_client(**({"cell_phone": cell} if cell else {}))
    if profile:
        MessagingProfile.objects.filter(client=client).update(**profile)
    return make_delivery(
        channel="voice", client=client, code="client-upcoming-appointment", appointment=make_appointment(client)
    )


def parse(twiml: str) -> ElementTree.Element:
    return ElementTree.fromstring(twiml)  # noqa: S314 - our own output


@pytest.mark.django_db
def test_a_person_hears_the_script_inside_a_gather(daytime, settings):
    delivery = appointment_delivery()
    root = parse(build_twiml(delivery, SCRIPT, answered_by="human", voicemail_ok=False))
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    assert gather.get("action") == f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/voice/{delivery.token}/gather"
    say = gather.find("Say")
    assert say.text == SCRIPT.voice_script and say.get("voice") == settings.TWILIO_TTS_VOICE
    assert say.get("language") == settings.TWILIO_TTS_LANGUAGE
    assert root[-1].tag == "Hangup"


@pytest.mark.django_db
def test_a_spanish_script_is_read_by_a_spanish_voice(daytime, settings):
    from messaging.models import TemplateVersion

    settings.TWILIO_TTS_VOICES = {"es": ("Polly.Lupe", "es-US")}
    delivery = appointment_delivery()
    version = TemplateVersion.objects.create(
        message_type=delivery.message_type, channel="voice", language="es", number=1, digest="x" * 64
    )
    delivery.template_version = version
    say = parse(build_twiml(delivery, SCRIPT, answered_by="human", voicemail_ok=False)).find("Gather/Say")
    assert (say.get("voice"), say.get("language")) == ("Polly.Lupe", "es-US")
    version.language = "vi"  # no voice configured for it: the default voice
    say = parse(build_twiml(delivery, SCRIPT, answered_by="human", voicemail_ok=False)).find("Gather/Say")
    assert (say.get("voice"), say.get("language")) == (settings.TWILIO_TTS_VOICE, settings.TWILIO_TTS_LANGUAGE)


@pytest.mark.django_db
@pytest.mark.parametrize(("answered_by", "voicemail_ok"), [("machine_end_beep", False), ("fax", True)])
def test_machines_without_voicemail_permission_and_fax_lines_get_nothing(daytime, answered_by, voicemail_ok):
    delivery = appointment_delivery()
    root = parse(build_twiml(delivery, SCRIPT, answered_by=answered_by, voicemail_ok=voicemail_ok))
    assert [child.tag for child in root] == ["Hangup"]


@pytest.mark.django_db
def test_voicemail_is_left_after_the_beep_when_allowed(daytime):
    delivery = appointment_delivery()
    root = parse(build_twiml(delivery, SCRIPT, answered_by="machine_end_beep", voicemail_ok=True))
    assert [child.tag for child in root] == ["Say", "Hangup"]  # no "press 1" for a machine


@pytest.mark.django_db
def test_recorded_audio_is_played_from_an_expiring_signed_url(daytime, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    delivery = make_delivery(channel="voice")
    template = MessageTemplate.objects.get(message_type=delivery.message_type, channel="voice")
    template.voice_audio.save("notice.mp3", ContentFile(b"ID3fake-mp3"), save=True)
    root = parse(build_twiml(delivery, Rendered(voice_audio_url=template.voice_audio.url), answered_by="human"))
    url = root.find("Play").text
    assert url.startswith(f"{settings.PUBLIC_BASE_URL}/webhooks/voice/audio/")
    path = url.removeprefix(settings.PUBLIC_BASE_URL)
    response = client.get(path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"ID3fake-mp3"
    assert client.get(path.replace(delivery.token[:5], "xxxxx")).status_code == 404
    three_hours_ago = int(time.time()) - 3 * 3600  # a signature older than the two hours allowed
    old = signing.Signer(salt=AUDIO_SALT).sign(f"{delivery.token}:{signing.b62_encode(three_hours_ago)}")
    assert signing.TimestampSigner(salt=AUDIO_SALT).unsign(old) == delivery.token
    assert client.get(f"/webhooks/voice/audio/{old}/").status_code == 404


@pytest.mark.django_db
def test_the_call_request_uses_machine_detection_and_the_caller_id(daytime, twilio_sim, settings):
    setting_update(number=269, value="+16175550142", user=None)
    delivery = make_delivery(channel="voice")
    for claim in dispatch.claim_due(now=daytime.now(), channels=["voice"]):
        dispatch.send_claimed(claim.ids, claim.token)
    [record] = twilio_sim.received()
    params = record["params"]
    assert params["From"] == "+16175550142" and params["To"] == delivery.address
    assert params["MachineDetection"] == "DetectMessageEnd" and "AsyncAmd" not in params
    assert params["Url"] == f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/voice/{delivery.token}/twiml"
    assert params["StatusCallbackEvent"] == ["answered", "completed"]
    assert refreshed(delivery).status == Status.SENT and refreshed(delivery).provider_message_id.startswith("CA")


@pytest.mark.django_db(transaction=True)
def test_end_to_end_calls(daytime, twilio_sim, live_callbacks, settings):
    settings.DISPATCH_REDIAL_SECONDS = 60
    setting_update(number=266, value="2", user=None)
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "voice": 100.0}
    human = appointment_delivery()
    busy = make_delivery(channel="voice", client=make_client(cell_phone="+16175550011"))
    machine_no = appointment_delivery("+16175550014", voicemail_ok="no")
    presses = appointment_delivery("+16175550016")
    for claim in dispatch.claim_due(now=daytime.now(), channels=["voice"]):
        dispatch.send_claimed(claim.ids, claim.token)
    twilio_sim.wait_for(lambda recs: len(recs) == 4 and all(r.get("done") for r in recs), timeout=15)
    human, busy, machine_no, presses = (refreshed(d) for d in (human, busy, machine_no, presses))
    assert human.status == Status.DELIVERED
    assert (busy.status, busy.redial_count, busy.bounce_category) == (Status.QUEUED, 1, "No-Answer-From-Host")
    assert busy.next_attempt_at == daytime.now() + dt.timedelta(seconds=60)
    assert (machine_no.status, machine_no.resend_count, machine_no.redial_count) == (Status.SUPPRESSED, 0, 0)
    assert machine_no.status_reason == "Not left: voicemail not allowed for this client"
    assert (machine_no.bounce_category, machine_no.hard_bounce) == ("", None)
    by_to = {r["to"]: r for r in twilio_sim.received()}
    assert "<Hangup" in by_to["+16175550014"]["twiml"] and "<Say" not in by_to["+16175550014"]["twiml"]
    assert "<Gather" in by_to[human.address]["twiml"]
    assert presses.status == Status.DELIVERED
    gather = ProviderEvent.objects.get(delivery=presses, event_type="gather")
    assert gather.status == "1" and gather.applied  # handed to the confirmation logic (issue 6)
    presses.appointment.refresh_from_db()
    assert presses.appointment.confirmation == "confirmed"

    daytime.advance(seconds=61)  # the busy line is dialled again
    for claim in dispatch.claim_due(now=daytime.now(), channels=["voice"]):
        dispatch.send_claimed(claim.ids, claim.token)
    assert list(Attempt.objects.filter(delivery=busy).values_list("kind", flat=True)) == ["first", "redial"]


def voice_status_params(delivery: Delivery, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "ApiVersion": "2010-04-01",
        "CallSid": delivery.provider_message_id,
        "CallStatus": status,
        "Direction": "outbound-api",
        "From": "+15555550100",
        "To": delivery.address,
        "CallDuration": "12",
        **extra,
    }


class _TwilioSigned(WebhookContract):
    channel = "voice"
    provider_id = "CA00000000000000000000000000000001"

    def post(self, http: Any, path: str, payload: dict[str, Any], *, auth: str = "valid") -> Any:
        signature = {"valid": None, "forged": "Zm9yZ2Vk", "none": ""}[auth]
        return twilio_post(http, path, payload, signature=signature)


@pytest.mark.django_db
class TestVoiceStatusWebhook(_TwilioSigned):
    def path(self, token: str) -> str:
        return f"/webhooks/twilio/voice/{token}/status"

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        return voice_status_params(delivery, "completed", AnsweredBy="human")

    def assert_applied(self, delivery: Delivery, response: Any) -> None:
        assert delivery.status == Status.DELIVERED


@pytest.mark.django_db
class TestVoiceTwimlWebhook(_TwilioSigned):
    def path(self, token: str) -> str:
        return f"/webhooks/twilio/voice/{token}/twiml"

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        return voice_status_params(delivery, "in-progress", AnsweredBy="human")

    def assert_applied(self, delivery: Delivery, response: Any) -> None:
        root = parse(response.content.decode())
        assert response["Content-Type"].startswith("text/xml") and root.find("Say") is not None


@pytest.mark.django_db
class TestVoiceGatherWebhook(_TwilioSigned):
    def path(self, token: str) -> str:
        return f"/webhooks/twilio/voice/{token}/gather"

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        return voice_status_params(delivery, "in-progress", Digits="1")

    def assert_applied(self, delivery: Delivery, response: Any) -> None:
        event = ProviderEvent.objects.get(delivery=delivery)
        assert (event.event_type, event.status) == ("gather", "1")
        assert b"Thank you" in response.content


@pytest.mark.django_db
def test_no_answer_and_fax_answers_are_classified(client, daytime):
    target = TestVoiceStatusWebhook()
    no_answer, fax_line = (
        target.target(),
        make_delivery(channel="voice", status=Status.SENT, provider_message_id="CAfax", attempt_count=1),
    )
    twilio_post(client, target.path(no_answer.token), voice_status_params(no_answer, "no-answer"))
    twilio_post(client, target.path(fax_line.token), voice_status_params(fax_line, "completed", AnsweredBy="fax"))
    no_answer, fax_line = refreshed(no_answer), refreshed(fax_line)
    assert (no_answer.status, no_answer.redial_count) == (Status.QUEUED, 1)
    assert (fax_line.status, fax_line.bounce_category, fax_line.hard_bounce) == (Status.FAILED, "Bad-Mailbox", True)


@pytest.mark.django_db
def test_the_recording_played_is_the_one_the_message_was_made_with(daytime, client, settings, tmp_path):
    from messaging.content import version_for

    settings.MEDIA_ROOT = tmp_path
    delivery = make_delivery(channel="voice")
    template = MessageTemplate.objects.get(message_type=delivery.message_type, channel="voice")
    template.voice_audio.save("first.mp3", ContentFile(b"ID3first"), save=True)
    delivery.template_version = version_for(template)  # fixed when the message was created
    delivery.save(update_fields=["template_version"])
    template.voice_audio.save("second.mp3", ContentFile(b"ID3second"), save=True)  # a new recording since
    root = parse(build_twiml(delivery, Rendered(voice_audio_url=template.voice_audio.url), answered_by="human"))
    response = client.get(root.find("Play").text.removeprefix(settings.PUBLIC_BASE_URL))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"ID3first"
