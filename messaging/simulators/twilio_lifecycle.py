"""The webhooks Twilio sends after accepting a message or a call, imitated step by step.

Everything here runs on the simulator's callback pool, never on the API request's thread.
Every webhook is signed the way Twilio signs it: ``X-Twilio-Signature`` is
``RequestValidator(auth_token).compute_signature(url, params)`` over the exact URL called and
the form parameters (for GET, over the URL with the parameters in its query string).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator

from messaging.simulators.base import first, utc_now
from messaging.simulators.twilio_outcomes import CallOutcome, SmsOutcome
from messaging.simulators.twilio_resources import API_VERSION, rfc2822_now

if TYPE_CHECKING:
    from messaging.simulators.twilio_sim import TwilioSim

FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"

OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_KEYWORDS = {"START", "YES", "UNSTOP"}
HELP_KEYWORDS = {"HELP", "INFO"}


def signed_request(sim: TwilioSim, url: str, params: Mapping[str, str], method: str = "POST") -> dict[str, Any]:
    """Send one webhook signed like Twilio; returns the delivery report."""
    validator = RequestValidator(sim.auth_token)
    headers = {
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
    }
    if method.upper() == "GET":
        separator = "&" if urlsplit(url).query else "?"
        full_url = f"{url}{separator}{urlencode(params)}" if params else url
        headers["X-Twilio-Signature"] = validator.compute_signature(full_url, {})
        return sim.sender.send("GET", full_url, headers=headers)
    headers["X-Twilio-Signature"] = validator.compute_signature(url, dict(params))
    headers["Content-Type"] = FORM_TYPE
    return sim.sender.send("POST", url, data=dict(params), headers=headers)


def opt_out_type(body: str) -> str | None:
    """Twilio's ``OptOutType`` for an inbound body that is exactly one keyword."""
    word = body.strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "STOP"
    if word in OPT_IN_KEYWORDS:
        return "START"
    if word in HELP_KEYWORDS:
        return "HELP"
    return None


# --- SMS -----------------------------------------------------------------------------------------


def sms_steps(outcome: SmsOutcome) -> list[tuple[str, int | None]]:
    """Callback statuses in order: ``failed`` alone, or ``sent`` then the final status."""
    if outcome.status == "failed":
        return [("failed", outcome.error_code)]
    final_error = None if outcome.status == "delivered" else outcome.error_code
    return [("sent", None), (outcome.status, final_error)]


def run_sms(sim: TwilioSim, record: dict[str, Any], message: dict[str, Any], outcome: SmsOutcome) -> None:
    """Move a message through its statuses and POST each one to its StatusCallback."""
    callback = record.get("status_callback")
    for status, error_code in sms_steps(outcome):
        if not sim.sender.pause():
            return
        sim.update_resource(message["sid"], status=status, error_code=error_code)
        sim.recorder.update(record, status=status, error_code=error_code)
        if not callback:
            continue
        if record.get("quiet") or sim.sender.drops():
            sim.recorder.append_to(record, "callbacks", {"status": status, "dropped": True})
            continue
        params = sms_callback_params(sim, message, status, error_code)
        report = signed_request(sim, callback, params)
        sim.recorder.append_to(record, "callbacks", {"status": status, **_short(report)})
    sim.recorder.update(record, done=True)


def sms_callback_params(
    sim: TwilioSim, message: Mapping[str, Any], status: str, error_code: int | None
) -> dict[str, str]:
    params = {
        "AccountSid": sim.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.get("from") or "",
        "MessageSid": message["sid"],
        "MessageStatus": status,
        "SmsSid": message["sid"],
        "SmsStatus": status,
        "To": message["to"],
    }
    if message.get("messaging_service_sid"):
        params["MessagingServiceSid"] = message["messaging_service_sid"]
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    if status in ("delivered", "undelivered"):
        params["RawDlrDoneDate"] = utc_now().strftime("%y%m%d%H%M")
    return params


# --- calls ---------------------------------------------------------------------------------------


def answered_by(outcome: CallOutcome, machine_detection: str | None) -> str | None:
    """Twilio's ``AnsweredBy`` for an answered call, when AMD was requested."""
    if not machine_detection or not outcome.answered:
        return None
    if outcome.answered_by == "machine":
        return "machine_end_beep" if machine_detection == "DetectMessageEnd" else "machine_start"
    return outcome.answered_by


class CallRun:
    """One outbound call's progress: status callbacks, TwiML fetch, AMD and key presses."""

    def __init__(
        self,
        sim: TwilioSim,
        record: dict[str, Any],
        call: dict[str, Any],
        outcome: CallOutcome,
        form: Mapping[str, list[str]],
    ):
        self.sim = sim
        self.record = record
        self.call = call
        self.outcome = outcome
        self.params = {k: list(v) for k, v in form.items()}
        self.events = {e.lower() for e in self.params.get("StatusCallbackEvent", [])} or {"completed"}
        self.amd = first(self.params, "MachineDetection")
        self.async_amd = (first(self.params, "AsyncAmd") or "").lower() == "true"
        self.answered_by = answered_by(outcome, self.amd)
        self._sequence = itertools.count()

    def run(self) -> None:
        steps: list[Callable[[], bool]] = [self.initiate]
        if self.outcome.status == "failed":
            steps.append(lambda: self.finish("failed", 0))
        else:
            steps.append(self.ring)
            if self.outcome.answered:
                steps += [self.answer, lambda: self.finish("completed", self.outcome.duration)]
            else:
                steps.append(lambda: self.finish(self.outcome.status, 0))
        for step in steps:
            if not self.sim.sender.pause() or not step():
                return
        self.sim.recorder.update(self.record, done=True)

    # --- steps (each returns False to stop the run)
    def initiate(self) -> bool:
        self.status_callback("initiated", "initiated")
        return True

    def ring(self) -> bool:
        self.set_status("ringing")
        self.status_callback("ringing", "ringing")
        return True

    def answer(self) -> bool:
        self.set_status("in-progress", start_time=rfc2822_now(), answered_by=self.answered_by)
        twiml, document_url = self.fetch_twiml()
        extra = {} if self.answered_by is None or self.async_amd else {"AnsweredBy": self.answered_by}
        self.status_callback("answered", "in-progress", **extra)
        if self.async_amd and self.answered_by:
            self.send_amd_result()
        if twiml and self.outcome.digits:
            self.press_digits(twiml, document_url)
        return True

    def finish(self, status: str, duration: int) -> bool:
        changes: dict[str, Any] = {"end_time": rfc2822_now(), "duration": str(duration)}
        self.set_status(status, **changes)
        extra = {"CallDuration": str(duration)}
        if self.answered_by:
            extra["AnsweredBy"] = self.answered_by
        self.status_callback("completed", status, **extra)
        return True

    # --- helpers
    def set_status(self, status: str, **changes: Any) -> None:
        self.sim.update_resource(self.call["sid"], status=status, **changes)
        self.sim.recorder.update(self.record, status=status, answered_by=self.answered_by)

    def base_params(self, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.sim.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call["sid"],
            "CallStatus": status,
            "Called": self.call["to"],
            "Caller": self.call["from"],
            "Direction": "outbound-api",
            "From": self.call["from"],
            "To": self.call["to"],
        }

    def status_callback(self, event: str, status: str, **extra: str) -> None:
        url = self.record.get("status_callback")
        if not url or event not in self.events:
            return
        if self.record.get("quiet") or self.sim.sender.drops():
            self.sim.recorder.append_to(self.record, "callbacks", {"event": event, "status": status, "dropped": True})
            return
        params = {
            **self.base_params(status),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(next(self._sequence)),
            "Timestamp": rfc2822_now(),
            **extra,
        }
        method = first(self.params, "StatusCallbackMethod") or "POST"
        report = signed_request(self.sim, url, params, method)
        self.sim.recorder.append_to(self.record, "callbacks", {"event": event, "status": status, **_short(report)})

    def fetch_twiml(self) -> tuple[str | None, str | None]:
        """Inline ``Twiml``, or the TwiML fetched from ``Url`` (signed, like Twilio)."""
        inline = first(self.params, "Twiml")
        if inline:
            return inline, None
        url = first(self.params, "Url")
        if not url:
            return None, None
        params = self.base_params("in-progress")
        if self.answered_by and not self.async_amd:
            params["AnsweredBy"] = self.answered_by
        report = signed_request(self.sim, url, params, first(self.params, "Method") or "POST")
        ok = report.get("http_status") is not None and 200 <= report["http_status"] < 300
        twiml = report.get("response") if ok else None
        self.sim.recorder.update(self.record, twiml=twiml, twiml_fetch=_short(report))
        return twiml, url

    def send_amd_result(self) -> None:
        url = first(self.params, "AsyncAmdStatusCallback")
        if not url:
            return
        params = {
            "AccountSid": self.sim.account_sid,
            "AnsweredBy": self.answered_by or "unknown",
            "CallSid": self.call["sid"],
            "MachineDetectionDuration": "2100",
        }
        report = signed_request(self.sim, url, params, first(self.params, "AsyncAmdStatusCallbackMethod") or "POST")
        self.sim.recorder.append_to(
            self.record,
            "callbacks",
            {"event": "amd", "status": params["AnsweredBy"], **_short(report)},
        )

    def press_digits(self, twiml: str, document_url: str | None) -> None:
        """POST the callee's key press to the ``<Gather>`` action, as Twilio does."""
        gather = find_gather(twiml)
        if gather is None:
            return
        action = gather.get("action") or document_url
        if action and document_url:
            action = urljoin(document_url, action)
        if not action or not urlsplit(action).scheme:
            self.sim.recorder.update(self.record, gather={"error": "no absolute action URL"})
            return
        digits = self.outcome.digits or ""
        num_digits = gather.get("numDigits")
        if num_digits and num_digits.isdigit():
            digits = digits[: int(num_digits)]
        params = {**self.base_params("in-progress"), "Digits": digits, "FinishedOnKey": ""}
        report = signed_request(self.sim, action, params, gather.get("method") or "POST")
        self.sim.recorder.update(self.record, gather={"digits": digits, **_short(report)})


def find_gather(twiml: str) -> ElementTree.Element | None:
    try:
        root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML served by the app under test
    except ElementTree.ParseError:
        return None
    return next(root.iter("Gather"), None)


def _short(report: Mapping[str, Any]) -> dict[str, Any]:
    """A delivery report for the record; the response body only when it is short."""
    kept = {k: v for k, v in report.items() if k != "response"}
    response = report.get("response")
    if response:
        kept["response"] = response[:1000]
    return kept
