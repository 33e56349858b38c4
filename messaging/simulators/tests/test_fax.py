"""FaxApiClient against the fax simulator (and a misbehaving server) over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from messaging.channels.fax.api import FaxApiClient, FaxApiError
from messaging.simulators.base import basic_auth_header
from messaging.simulators.tests.support import FAX

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
    b"4 0 obj << /Type /Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


@pytest.fixture
def fax_client(fax_sim):
    client = FaxApiClient(fax_sim.url, FAX["project_id"], FAX["key_id"], FAX["key_secret"], 5)
    yield client
    client.close()


def _send(client, receiver, to="+15551239876", pdf=PDF):
    return client.send_fax(to=to, pdf=pdf, filename="reminder.pdf", callback_url=receiver.url("/fax"))


def test_send_fax_returns_a_queued_fax_and_calls_back_with_basic_auth(fax_client, receiver):
    fax = _send(fax_client, receiver)
    assert fax["status"] == "QUEUED" and fax["direction"] == "OUTBOUND"
    assert len(fax["id"]) == 26 and fax["to"] == "+15551239876"
    assert fax["numberOfPages"] == 2 and fax["createTime"].endswith("Z")
    hit = receiver.wait("/fax")[0]
    expected = basic_auth_header(FAX["callback_user"], FAX["callback_password"])
    assert hit.headers["Authorization"] == expected
    assert hit.headers["Content-Type"] == "application/json"
    event = hit.json()
    assert event["event"] == "FAX_COMPLETED" and event["eventTime"]
    assert event["fax"]["id"] == fax["id"] and event["fax"]["status"] == "COMPLETED"
    assert event["fax"]["pagesSentSuccessfully"] == 2
    assert fax_client.get_fax(fax["id"])["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("to", "error_type", "code"),
    [
        ("+15551230021", "CALL_ERROR", 17),
        ("+15551230022", "CALL_ERROR", 16),
        ("+15551230023", "CALL_ERROR", 34),
        ("+15551230024", "FAX_ERROR", 132),
    ],
)
def test_failure_outcomes(fax_client, receiver, to, error_type, code):
    _send(fax_client, receiver, to=to)
    fax = receiver.wait("/fax")[0].json()["fax"]
    assert fax["status"] == "FAILURE"
    assert (fax["errorType"], fax["errorCode"]) == (error_type, code)
    assert fax["errorMessage"]


def test_a_file_that_is_not_a_pdf_fails_conversion(fax_client, receiver):
    _send(fax_client, receiver, pdf=b"GIF89a not a pdf")
    fax = receiver.wait("/fax")[0].json()["fax"]
    assert (fax["errorType"], fax["errorCode"]) == ("DOCUMENT_CONVERSION_ERROR", 129)


def test_received_records_and_override_over_http(fax_client, fax_sim, receiver):
    override = {"faxes": {"9999": {"status": "FAILURE", "error_type": "CALL_ERROR", "error_code": 15}}}
    assert requests.post(f"{fax_sim.url}/_sim/outcomes", json=override, timeout=5).ok
    _send(fax_client, receiver, to="+15551239999")
    assert receiver.wait("/fax")[0].json()["fax"]["errorCode"] == 15
    fax_sim.wait_for(lambda r: r and r[0]["done"])
    record = requests.get(f"{fax_sim.url}/_sim/received", timeout=5).json()[0]
    assert record["to"] == "+15551239999" and record["pages"] == 2 and record["size"] == len(PDF)
    assert record["status"] == "FAILURE" and record["callbacks"][0]["http_status"] == 200
    assert requests.post(f"{fax_sim.url}/_sim/reset", timeout=5).ok
    assert fax_sim.received() == []


def test_wrong_key_is_401_and_not_retryable(fax_sim, receiver):
    client = FaxApiClient(fax_sim.url, FAX["project_id"], FAX["key_id"], "wrong", 5)
    with pytest.raises(FaxApiError) as caught:
        _send(client, receiver)
    assert caught.value.status == 401 and caught.value.code == "UNAUTHENTICATED"
    assert caught.value.retryable is False


def test_invalid_number_is_400_and_not_retryable(fax_client, receiver):
    with pytest.raises(FaxApiError) as caught:
        _send(fax_client, receiver, to="555-1234")
    assert caught.value.status == 400 and caught.value.code == "INVALID_ARGUMENT"
    assert not caught.value.retryable


def test_unknown_fax_is_404(fax_client):
    with pytest.raises(FaxApiError) as caught:
        fax_client.get_fax("01ABCDEFGHJKMNPQRSTVWXYZ00")
    assert caught.value.status == 404 and not caught.value.retryable


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(receiver, status):
    body = json.dumps({"code": status, "message": "try later"})
    receiver.respond("/v3/projects/p/faxes", body, status, "application/json")
    client = FaxApiClient(receiver.base, "p", "k", "s", 5)
    with pytest.raises(FaxApiError) as caught:
        _send(client, receiver)
    assert caught.value.status == status and caught.value.retryable
    assert caught.value.message == "try later"


def test_connection_refused_is_retryable():
    client = FaxApiClient("http://127.0.0.1:9", "p", "k", "s", 2)
    with pytest.raises(FaxApiError) as caught:
        client.get_fax("x")
    assert caught.value.status is None and caught.value.retryable
    assert caught.value.code == "connection_error"
