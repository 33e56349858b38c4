"""The real twilio client places calls through the simulator: progress, AMD, TwiML, key presses."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from messaging.simulators.tests.support import AUTH_TOKEN, OUR_NUMBER

ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
SAY = "<Response><Say>Your appointment is tomorrow.</Say></Response>"


def _signed_ok(hit) -> bool:
    signature = hit.headers["X-Twilio-Signature"]
    return RequestValidator(AUTH_TOKEN).validate(hit.url, hit.form, signature)


def _gather_twiml(action: str) -> str:
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, action=action)
    gather.say("Press 1 to confirm, 2 to cancel.")
    response.append(gather)
    return str(response)


def test_answered_call_reports_every_requested_event(twilio, twilio_sim, receiver):
    call = twilio.calls.create(
        to="+15551239876",
        from_=OUR_NUMBER,
        twiml=SAY,
        status_callback=receiver.url("/status"),
        status_callback_event=ALL_EVENTS,
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34 and call.status == "queued"
    hits = receiver.wait("/status", 4)
    assert [h.form["CallStatus"] for h in hits] == ["initiated", "ringing", "in-progress", "completed"]
    assert all(_signed_ok(h) for h in hits)
    final = hits[-1].form
    assert final["CallSid"] == call.sid and final["Direction"] == "outbound-api"
    assert int(final["CallDuration"]) > 0
    assert "AnsweredBy" not in final  # no MachineDetection requested
    twilio_sim.wait_for(lambda r: r[0]["done"])
    assert twilio_sim.received()[0]["twiml"] == SAY
    fetched = twilio.calls(call.sid).fetch()
    assert fetched.status == "completed" and fetched.duration == final["CallDuration"]


@pytest.mark.parametrize(
    ("to", "status", "events"),
    [
        ("+15551230011", "busy", ["initiated", "ringing", "busy"]),
        ("+15551230012", "no-answer", ["initiated", "ringing", "no-answer"]),
        ("+15551230013", "failed", ["initiated", "failed"]),
    ],
)
def test_unanswered_outcomes(twilio, twilio_sim, receiver, to, status, events):
    twilio.calls.create(
        to=to,
        from_=OUR_NUMBER,
        twiml=SAY,
        status_callback=receiver.url("/status"),
        status_callback_event=ALL_EVENTS,
    )
    hits = receiver.wait("/status", len(events))
    assert [h.form["CallStatus"] for h in hits] == events
    assert hits[-1].form["CallDuration"] == "0"
    twilio_sim.wait_for(lambda r: r[0]["done"])
    assert twilio_sim.received()[0]["status"] == status


def test_only_completed_is_sent_without_status_callback_event(twilio, twilio_sim, receiver):
    twilio.calls.create(to="+15551230011", from_=OUR_NUMBER, twiml=SAY, status_callback=receiver.url("/status"))
    twilio_sim.wait_for(lambda r: r[0]["done"])
    assert [h.form["CallStatus"] for h in receiver.at("/status")] == ["busy"]


@pytest.mark.parametrize(
    ("to", "detection", "answered_by"),
    [
        ("+15551230014", "DetectMessageEnd", "machine_end_beep"),
        ("+15551230014", "Enable", "machine_start"),
        ("+15551230015", "Enable", "fax"),
        ("+15551239876", "Enable", "human"),
    ],
)
def test_machine_detection_reports_answered_by(twilio, receiver, to, detection, answered_by):
    twilio.calls.create(
        to=to,
        from_=OUR_NUMBER,
        twiml=SAY,
        machine_detection=detection,
        status_callback=receiver.url("/status"),
    )
    hit = receiver.wait("/status")[0]
    assert hit.form["CallStatus"] == "completed"
    assert hit.form["AnsweredBy"] == answered_by


def test_async_amd_result_goes_to_its_own_callback(twilio, receiver):
    twilio.calls.create(
        to="+15551230014",
        from_=OUR_NUMBER,
        twiml=SAY,
        machine_detection="DetectMessageEnd",
        async_amd="true",
        async_amd_status_callback=receiver.url("/amd"),
    )
    hit = receiver.wait("/amd")[0]
    assert _signed_ok(hit)
    assert hit.form["AnsweredBy"] == "machine_end_beep"


def test_twiml_is_fetched_from_url_and_digit_posted_to_gather_action(twilio, twilio_sim, receiver):
    receiver.respond("/voice", _gather_twiml("/confirm"))
    receiver.respond("/confirm", "<Response><Say>Thank you.</Say></Response>")
    call = twilio.calls.create(
        to="+15551230016",
        from_=OUR_NUMBER,
        url=receiver.url("/voice?delivery=abc"),
        machine_detection="Enable",
        status_callback=receiver.url("/status"),
    )
    fetch = receiver.wait("/voice")[0]
    assert fetch.method == "POST" and _signed_ok(fetch)
    assert fetch.form["CallSid"] == call.sid and fetch.form["AnsweredBy"] == "human"
    press = receiver.wait("/confirm")[0]
    assert _signed_ok(press)
    assert press.form["Digits"] == "1" and press.form["CallSid"] == call.sid
    twilio_sim.wait_for(lambda r: r[0]["done"])
    record = twilio_sim.received()[0]
    assert "<Gather" in record["twiml"]
    assert record["gather"]["digits"] == "1" and record["gather"]["http_status"] == 200


def test_inline_twiml_gather_with_absolute_action_gets_digit_2(twilio, receiver):
    twilio.calls.create(to="+15551230017", from_=OUR_NUMBER, twiml=_gather_twiml(receiver.url("/confirm")))
    assert receiver.wait("/confirm")[0].form["Digits"] == "2"


def test_status_callback_with_get_is_signed_over_the_query(twilio, receiver):
    twilio.calls.create(
        to="+15551239876",
        from_=OUR_NUMBER,
        twiml=SAY,
        status_callback=receiver.url("/status?d=1"),
        status_callback_method="GET",
    )
    hit = receiver.wait("/status")[0]
    assert hit.method == "GET" and hit.query["CallStatus"] == "completed"
    assert RequestValidator(AUTH_TOKEN).validate(hit.url, {}, hit.headers["X-Twilio-Signature"])


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "12", "twiml": SAY}, 21211),
        ({"to": "+15551239876"}, 21205),  # neither Url nor Twiml
    ],
)
def test_invalid_calls_are_rejected(twilio, kwargs, code):
    with pytest.raises(TwilioRestException) as caught:
        twilio.calls.create(from_=OUR_NUMBER, **kwargs)
    assert caught.value.code == code
