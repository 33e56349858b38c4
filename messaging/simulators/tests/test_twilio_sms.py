"""The real twilio client sends SMS through the Twilio simulator; callbacks arrive signed."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from messaging.channels.twilio.client import get_twilio_client
from messaging.simulators.tests.support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER
from messaging.simulators.twilio_sim import start_twilio_sim


def _signed_ok(hit, token: str = AUTH_TOKEN) -> bool:
    return RequestValidator(token).validate(hit.url, hit.form, hit.headers["X-Twilio-Signature"])


def test_message_create_answers_like_twilio(twilio, receiver):
    message = twilio.messages.create(
        to="+15551239876", from_=OUR_NUMBER, body="Hello", status_callback=receiver.url("/sms")
    )
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert (message.to, message.from_, message.body) == ("+15551239876", OUR_NUMBER, "Hello")
    assert message.account_sid == ACCOUNT_SID
    assert message.error_code is None
    assert message.num_segments == "1"
    assert message.date_created is not None  # parsed from RFC 2822 by twilio-python


def test_delivered_message_sends_signed_sent_then_delivered(twilio, receiver):
    message = twilio.messages.create(
        to="+15551239876", from_=OUR_NUMBER, body="Hi", status_callback=receiver.url("/sms")
    )
    hits = receiver.wait("/sms", 2)
    assert [h.form["MessageStatus"] for h in hits] == ["sent", "delivered"]
    for hit in hits:
        assert _signed_ok(hit)
        assert hit.form["MessageSid"] == hit.form["SmsSid"] == message.sid
        assert hit.form["AccountSid"] == ACCOUNT_SID
        assert hit.form["From"] == OUR_NUMBER and hit.form["To"] == "+15551239876"
        assert hit.form["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in hit.form
    assert not _signed_ok(hits[0], "another-token")


@pytest.mark.parametrize(
    ("to", "statuses", "error_code"),
    [
        ("+15551230001", ["sent", "undelivered"], "30003"),
        ("+15551230002", ["failed"], "30006"),
        ("+15551230003", ["sent", "undelivered"], "30007"),
    ],
)
def test_outcome_table_for_failing_numbers(twilio, twilio_sim, receiver, to, statuses, error_code):
    message = twilio.messages.create(to=to, from_=OUR_NUMBER, body="Hi", status_callback=receiver.url("/sms"))
    hits = receiver.wait("/sms", len(statuses))
    assert [h.form["MessageStatus"] for h in hits] == statuses
    assert hits[-1].form["ErrorCode"] == error_code
    assert all(_signed_ok(h) for h in hits)
    twilio_sim.wait_for(lambda records: records[0]["done"])
    fetched = twilio.messages(message.sid).fetch()
    assert fetched.status == statuses[-1]
    assert str(fetched.error_code) == error_code


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [
        ("+15551230004", "Hi", 21211),  # outcome table: invalid number
        ("+15551230005", "Hi", 21610),  # outcome table: unsubscribed
        ("5551234", "Hi", 21211),  # not E.164
        ("+15551239876", None, 21602),  # no body
        ("+15551239876", "x" * 1601, 21617),  # too long
    ],
)
def test_rejected_at_create_raises_twilio_rest_exception(twilio, twilio_sim, to, body, code):
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=to, from_=OUR_NUMBER, body=body)
    assert caught.value.status == 400
    assert caught.value.code == code
    record = twilio_sim.received()[-1]
    assert record["accepted"] is False and record["error_code"] == code


def test_wrong_credentials_answer_401(twilio_sim):
    client = get_twilio_client(account_sid=ACCOUNT_SID, auth_token="wrong", api_base=twilio_sim.url)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to="+15551239876", from_=OUR_NUMBER, body="Hi")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    other = "AC" + "f" * 32
    client = get_twilio_client(account_sid=other, auth_token=AUTH_TOKEN, api_base=twilio_sim.url)
    with pytest.raises(TwilioRestException):
        client.messages.create(to="+15551239876", from_=OUR_NUMBER, body="Hi")
    assert twilio_sim.received() == []


def test_unknown_message_is_404(twilio):
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages("SM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_messaging_service_without_from_is_accepted(twilio):
    message = twilio.messages.create(to="+15551239876", messaging_service_sid="MG" + "1" * 32, body="Hi")
    assert message.status == "accepted"


def test_runtime_override_changes_outcome(twilio, twilio_sim, receiver):
    response = requests.post(
        f"{twilio_sim.url}/_sim/outcomes",
        json={"sms": {"+15551239999": {"status": "undelivered", "error_code": 30008}}},
        timeout=5,
    )
    assert response.status_code == 200
    twilio.messages.create(to="+15551239999", from_=OUR_NUMBER, body="Hi", status_callback=receiver.url("/sms"))
    assert receiver.wait("/sms", 2)[-1].form["ErrorCode"] == "30008"
    bad = requests.post(f"{twilio_sim.url}/_sim/outcomes", json={"sms": {"1": {"x": 1}}}, timeout=5)
    assert bad.status_code == 400


def test_received_and_reset_over_http(twilio, twilio_sim, receiver):
    twilio.messages.create(to="+15551239876", from_=OUR_NUMBER, body="Hi", status_callback=receiver.url("/sms"))
    twilio_sim.wait_for(lambda records: records and records[0]["done"])
    records = requests.get(f"{twilio_sim.url}/_sim/received", timeout=5).json()
    assert len(records) == 1
    record = records[0]
    assert record["kind"] == "sms" and record["body"] == "Hi" and record["status"] == "delivered"
    assert record["status_callback"] == receiver.url("/sms")
    assert [c["http_status"] for c in record["callbacks"]] == [200, 200]
    assert record["outcome"] == {"status": "delivered", "error_code": None}
    assert requests.post(f"{twilio_sim.url}/_sim/reset", timeout=5).status_code == 200
    assert requests.get(f"{twilio_sim.url}/_sim/received", timeout=5).json() == []


def test_inbound_stop_blocks_later_messages_until_start(twilio, twilio_sim, receiver):
    patient = "+15551238888"

    def inbound(body: str) -> dict:
        payload = {"from": patient, "to": OUR_NUMBER, "body": body, "url": receiver.url("/in")}
        return requests.post(f"{twilio_sim.url}/_sim/inbound", json=payload, timeout=5).json()

    answer = inbound(" stop ")
    assert answer["http_status"] == 200
    hit = receiver.at("/in")[-1]
    assert _signed_ok(hit)
    assert hit.form["OptOutType"] == "STOP" and hit.form["NumMedia"] == "0"
    assert hit.form["From"] == patient and hit.form["To"] == OUR_NUMBER
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=patient, from_=OUR_NUMBER, body="Reminder")
    assert caught.value.code == 21610
    inbound("START")
    assert receiver.at("/in")[-1].form["OptOutType"] == "START"
    assert twilio.messages.create(to=patient, from_=OUR_NUMBER, body="Reminder").status == "queued"
    inbound("See you then")
    assert "OptOutType" not in receiver.at("/in")[-1].form


def test_callback_to_a_dead_url_is_retried_and_recorded(twilio, twilio_sim):
    twilio.messages.create(to="+15551239876", from_=OUR_NUMBER, body="Hi", status_callback="http://127.0.0.1:9/cb")
    records = twilio_sim.wait_for(lambda r: r[0]["done"], timeout=10)
    callbacks = records[0]["callbacks"]
    assert len(callbacks) == 2
    assert all(c["http_status"] is None and c["attempts"] == 3 and c["error"] for c in callbacks)


def test_latency_delays_the_create_response():
    with start_twilio_sim(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, latency_ms=200) as sim:
        client = get_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=sim.url)
        started = time.monotonic()
        client.messages.create(to="+15551239876", from_=OUR_NUMBER, body="Hi")
        assert time.monotonic() - started >= 0.2


def test_concurrency_limit_answers_429():
    with start_twilio_sim(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, latency_ms=400, max_concurrent=1) as sim:
        client = get_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=sim.url)
        errors: list[TwilioRestException] = []

        def send() -> None:
            try:
                client.messages.create(to="+15551239876", from_=OUR_NUMBER, body="Hi")
            except TwilioRestException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=send) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert errors and all((e.status, e.code) == (429, 20429) for e in errors)
        assert len(errors) < 3
