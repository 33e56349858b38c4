"""Requests are checked against Twilio's OpenAPI description; what twilio-python sends passes."""

from __future__ import annotations

import pytest
import requests

from messaging.simulators.openapi_check import OpenApiSpec, validate_form_request
from messaging.simulators.tests.support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER
from messaging.simulators.twilio_sim import start_twilio_sim

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
GOOD_SMS = {
    "To": "+15551239876",
    "From": OUR_NUMBER,
    "Body": "Hi",
    "StatusCallback": "https://example.org/sms?d=1",
    "ValidityPeriod": "3600",
    "SmartEncoded": "true",
}


def test_valid_message_and_call_forms_pass():
    assert validate_form_request("POST", MESSAGES, GOOD_SMS) == []
    call = {
        "To": "+15551239876",
        "From": OUR_NUMBER,
        "Twiml": "<Response><Say>Hi</Say></Response>",
        "StatusCallbackEvent": ["initiated", "completed"],
        "MachineDetection": "DetectMessageEnd",
        "Timeout": "30",
    }
    assert validate_form_request("POST", CALLS, call) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"To": None}, "'To' is a required property"),
        ({"StatusCalback": "https://example.org"}, "'StatusCalback' was unexpected"),
        ({"ValidityPeriod": "one hour"}, "ValidityPeriod: 'one hour' is not of type 'integer'"),
        ({"SmartEncoded": "yes"}, "SmartEncoded: 'yes' is not of type 'boolean'"),
        ({"StatusCallback": "https://bad_host.example/x"}, "is not a 'uri'"),
        ({"ContentRetention": "forever"}, "is not one of ['retain', 'discard']"),
        ({"MessagingServiceSid": "MG123"}, "MessagingServiceSid"),
    ],
)
def test_invalid_message_forms_are_reported(change, expected):
    form = {**GOOD_SMS, **change}
    form = {k: v for k, v in form.items() if v is not None}
    problems = validate_form_request("POST", MESSAGES, form)
    assert any(expected in problem for problem in problems), problems


def test_bad_twiml_account_sid_and_repeated_scalar_are_reported():
    form = {"To": "+15551239876", "From": OUR_NUMBER, "Twiml": "<Say>hi</Say>", "Timeout": ["1", "2"]}
    problems = validate_form_request("POST", "/2010-04-01/Accounts/ACnope/Calls.json", form)
    assert any("Twiml" in p and "'twiml'" in p for p in problems)
    assert any(p.startswith("path AccountSid") for p in problems)
    assert any("Timeout: given 2 times" in p for p in problems)


def test_unknown_operation_is_a_violation():
    assert validate_form_request("POST", "/2010-04-01/Nowhere.json", {})


def test_spec_is_loaded_once():
    assert OpenApiSpec.load() is OpenApiSpec.load()


def _raw_post(url: str, data: dict) -> requests.Response:
    return requests.post(url, data=data, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)


def test_strict_simulator_rejects_what_the_description_forbids():
    with start_twilio_sim(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as sim:
        response = _raw_post(sim.url + MESSAGES, {**GOOD_SMS, "Priority": "high"})
        assert response.status_code == 400
        assert response.json()["code"] == 20422
        assert "'Priority' was unexpected" in response.json()["message"]
        assert _raw_post(sim.url + MESSAGES, GOOD_SMS).status_code == 201


def test_lenient_simulator_accepts_and_records_violations():
    with start_twilio_sim(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, strict=False) as sim:
        response = _raw_post(sim.url + MESSAGES, {**GOOD_SMS, "Priority": "high"})
        assert response.status_code == 201
        assert sim.received()[0]["openapi_violations"]


def test_everything_twilio_python_sends_passes_strict_mode(twilio, twilio_sim, receiver):
    twilio.messages.create(
        to="+15551239876",
        from_=OUR_NUMBER,
        body="Hi",
        status_callback=receiver.url("/sms"),
        validity_period=600,
        smart_encoded=True,
        shorten_urls=False,
    )
    twilio.calls.create(
        to="+15551239876",
        from_=OUR_NUMBER,
        url=receiver.url("/voice"),
        method="POST",
        status_callback=receiver.url("/status"),
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        status_callback_method="POST",
        timeout=30,
        machine_detection="DetectMessageEnd",
        async_amd="true",
        async_amd_status_callback=receiver.url("/amd"),
    )
    records = twilio_sim.received()
    assert [r["accepted"] for r in records] == [True, True]
    assert all("openapi_violations" not in r for r in records)
