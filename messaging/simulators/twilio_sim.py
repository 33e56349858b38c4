"""A local Twilio: the parts of the REST API 2010-04-01 this project uses, over real HTTP.

Point the real ``twilio`` client at it (``messaging.channels.twilio.client.get_twilio_client``
with ``api_base``) and every message travels the production code path.

Endpoints (JSON answers shaped like Twilio's, HTTP basic auth with account SID + auth token):

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` – 201 with a Message (``SM…``,
  status ``queued``, or ``accepted`` with only a MessagingServiceSid);
* ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` – 201 with a Call (``CA…``, ``queued``);
* ``GET  …/Messages/{Sid}.json`` and ``…/Calls/{Sid}.json`` – the resource's current state;
* ``POST /_sim/inbound`` ``{"from", "to", "body", "url"}`` – deliver a signed inbound SMS to
  ``url`` now and answer with the app's response; STOP/START keywords set ``OptOutType`` and,
  as on a real long code, block (21610) or unblock later messages from ``to`` to ``from``;
* the shared ``/_sim/received``, ``/_sim/reset`` and ``/_sim/outcomes`` (see ``twilio_outcomes``).

Errors use Twilio's JSON shape ``{"code", "message", "more_info", "status"}`` so twilio-python
raises ``TwilioRestException``: 401/20003 bad credentials; 400 with 21604 (no To), 21211 (invalid
To), 21603 (no From or MessagingServiceSid), 21606 (From not usable), 21602 (no Body),
21617 (Body over 1600 chars), 21610 (unsubscribed recipient); calls 21201/21211/21213/21212/21205;
20422 when the request does not fit Twilio's OpenAPI description (strict mode, see
``openapi_check``); 429/20429 past ``max_concurrent`` simultaneous creates; 404/20404.

After a 201, status callbacks follow on a background pool (see ``twilio_lifecycle``), signed
with ``X-Twilio-Signature``. Outcomes are chosen by the destination number: ``twilio_outcomes``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from hmac import compare_digest
from typing import Any
from urllib.parse import parse_qs, urlsplit

from messaging.simulators import twilio_lifecycle as lifecycle
from messaging.simulators import twilio_resources as resources
from messaging.simulators.base import (
    LOOPBACK,
    CallbackSender,
    Recorder,
    SimError,
    SimHandle,
    SimRequestHandler,
    first,
    flatten,
    route,
    serve,
    server_url,
    stop_server,
)
from messaging.simulators.openapi_check import OpenApiSpec
from messaging.simulators.outage import Outage
from messaging.simulators.twilio_outcomes import OutcomeTable

logger = logging.getLogger("messaging.simulators.twilio")

API = "/2010-04-01/Accounts/(?P<account_sid>[^/]+)"
MAX_RESOURCES = 5000
MULTI_VALUED = (
    "StatusCallbackEvent",
    "MediaUrl",
    "PersistentAction",
    "RecordingStatusCallbackEvent",
)


@dataclass(frozen=True)
class TwilioSimConfig:
    account_sid: str
    auth_token: str
    latency_ms: int = 0
    strict: bool = True
    max_concurrent: int | None = None
    callback_delay_ms: int = 50
    drop_callbacks: float = 0.0  # share of status callbacks lost on purpose (0..1)
    drop_seed: int | None = None
    spec_path: str | None = None


class TwilioSim:
    """State and behaviour of the simulated Twilio account (independent of HTTP)."""

    def __init__(self, config: TwilioSimConfig):
        self.config = config
        self.recorder = Recorder()
        self.outcomes = OutcomeTable()
        self.sender = CallbackSender(
            delay_s=config.callback_delay_ms / 1000, drop_share=config.drop_callbacks, seed=config.drop_seed
        )
        self.spec = OpenApiSpec.load(config.spec_path)
        self._lock = threading.Lock()
        self._resources: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._opt_outs: set[tuple[str, str]] = set()
        self._slots = threading.BoundedSemaphore(config.max_concurrent) if config.max_concurrent else None
        self.outage = Outage()

    @property
    def account_sid(self) -> str:
        return self.config.account_sid

    @property
    def auth_token(self) -> str:
        return self.config.auth_token

    # --- control surface
    def received(self) -> list[dict[str, Any]]:
        return self.recorder.snapshot()

    def reset(self) -> None:
        self.recorder.clear()
        self.outcomes.clear()
        with self._lock:
            self._resources.clear()
            self._opt_outs.clear()

    def set_outcomes(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        outage = overrides.get("outage")
        if isinstance(outage, Mapping):  # {"fail_seconds": 60, "hang_seconds": 30, "hang_for": 20}
            self.outage.start(
                float(outage.get("fail_seconds", 0)),
                float(outage.get("hang_seconds", 0)),
                hang_for=float(outage.get("hang_for", 20)),
            )
        return self.outcomes.apply({k: v for k, v in overrides.items() if k != "outage"})

    def close(self) -> None:
        self.sender.shutdown()

    # --- request checks
    def authenticate(self, credentials: tuple[str, str] | None, account_sid: str) -> None:
        """HTTP basic auth with the account SID and auth token, as Twilio's API requires."""
        user, password = credentials or ("", "")
        valid = compare_digest(user.encode(), self.account_sid.encode()) and compare_digest(
            password.encode(), self.auth_token.encode()
        )
        if not valid or account_sid != self.account_sid:
            raise resources.twilio_error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})

    def check_openapi(self, path: str, form: Mapping[str, list[str]], record: dict[str, Any]) -> None:
        problems = self.spec.validate_form("POST", path, form)
        if not problems:
            return
        self.recorder.update(record, openapi_violations=problems)
        if self.config.strict:
            raise resources.twilio_error(400, 20422, "Invalid parameter: " + "; ".join(problems))
        logger.warning("request does not fit Twilio's OpenAPI description: %s", problems)

    def run_create(self, create: Any, path: str, form: Mapping[str, list[str]]) -> dict[str, Any]:
        """Apply an outage, the concurrency limit and latency around one create."""
        if self.outage.refuse():
            raise resources.twilio_error(503, 20500, "Service Unavailable")
        if self._slots is not None and not self._slots.acquire(blocking=False):
            raise resources.twilio_error(429, 20429, "Too Many Requests", {"Retry-After": "1"})
        try:
            if self.config.latency_ms:
                time.sleep(self.config.latency_ms / 1000)
            answer = create(path, form)
            self.outage.hold_answer()  # an outage that times out: accepted, the answer never comes in time
            return answer
        finally:
            if self._slots is not None:
                self._slots.release()

    def _quiet_if_hanging(self, record: dict[str, Any]) -> None:
        """A create accepted while the provider hangs sends no status callbacks (they are lost in the
        outage too): only asking the provider can tell it was accepted."""
        if self.outage.state() == "hanging":
            self.recorder.update(record, quiet=True)

    # --- resources
    def store(self, resource: dict[str, Any]) -> None:
        with self._lock:
            self._resources[resource["sid"]] = resource
            while len(self._resources) > MAX_RESOURCES:
                self._resources.popitem(last=False)

    def update_resource(self, sid: str, **changes: Any) -> None:
        with self._lock:
            resource = self._resources.get(sid)
            if resource is not None:
                resource.update(changes, date_updated=resources.rfc2822_now())

    def fetch(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            resource = self._resources.get(sid)
            return dict(resource) if resource else None

    def newest(self, prefix: str, to: str, limit: int) -> list[dict[str, Any]]:
        """The newest messages (``SM``) or calls (``CA``) to ``to``, newest first (the list API)."""
        with self._lock:
            newest_first = reversed(self._resources.items())
            found = [dict(r) for sid, r in newest_first if sid.startswith(prefix) and r.get("to") == to]
        return found[:limit]

    # --- messages
    def create_message(self, path: str, form: Mapping[str, list[str]]) -> dict[str, Any]:
        record = self._record("sms", form)
        try:
            resources.check_message(form)
            self._check_opt_out(form)
            self.check_openapi(path, form, record)
            outcome = self.outcomes.sms_for(record["to"])
            self.recorder.update(record, outcome=outcome.as_dict())
            if outcome.status == "rejected":
                raise resources.rejection(outcome.error_code or 21211, record["to"])
        except SimError as exc:
            self.recorder.update(
                record,
                accepted=False,
                done=True,
                status="rejected",
                error_code=exc.body.get("code"),
            )
            raise
        message = resources.message_resource(self.account_sid, form)
        answer = dict(message)  # the 201 body: the state at create, whatever the lifecycle does next
        self.store(message)
        self.recorder.update(record, sid=message["sid"], status=message["status"])
        logger.info("accepted message %s (outcome %s)", message["sid"], outcome.status)
        self._quiet_if_hanging(record)
        self.sender.submit(lifecycle.run_sms, self, record, message, outcome)
        return answer

    def _check_opt_out(self, form: Mapping[str, list[str]]) -> None:
        """21610 for a recipient who texted STOP to this sender (as on a real long code)."""
        to, sender = first(form, "To"), first(form, "From") or first(form, "MessagingServiceSid")
        with self._lock:
            if (to, sender) in self._opt_outs:
                raise resources.rejection(21610, to or "")

    # --- calls
    def create_call(self, path: str, form: Mapping[str, list[str]]) -> dict[str, Any]:
        record = self._record(
            "call",
            form,
            twiml=first(form, "Twiml"),
            url=first(form, "Url"),
            machine_detection=first(form, "MachineDetection"),
            status_callback_event=form.get("StatusCallbackEvent", []),
        )
        try:
            resources.check_call(form)
            self.check_openapi(path, form, record)
        except SimError as exc:
            self.recorder.update(
                record,
                accepted=False,
                done=True,
                status="rejected",
                error_code=exc.body.get("code"),
            )
            raise
        outcome = self.outcomes.call_for(record["to"])
        call = resources.call_resource(self.account_sid, form)
        answer = dict(call)
        self.store(call)
        self.recorder.update(record, sid=call["sid"], status="queued", outcome=outcome.as_dict())
        logger.info("accepted call %s (outcome %s)", call["sid"], outcome.status)
        run = lifecycle.CallRun(self, record, call, outcome, form)
        self._quiet_if_hanging(record)
        self.sender.submit(run.run)
        return answer

    def _record(self, kind: str, form: Mapping[str, list[str]], **extra: Any) -> dict[str, Any]:
        params = flatten(form, MULTI_VALUED)
        return self.recorder.add(
            {
                "kind": kind,
                "sid": None,
                "to": first(form, "To"),
                "from": first(form, "From") or first(form, "MessagingServiceSid"),
                "body": first(form, "Body"),
                "status_callback": first(form, "StatusCallback"),
                "accepted": True,
                "done": False,
                "status": "queued",
                "params": params,
                "callbacks": [],
                **extra,
            }
        )

    # --- inbound SMS (to our number)
    def inbound(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a signed inbound-message webhook to ``payload["url"]`` and report the answer."""
        missing = [k for k in ("from", "to", "body", "url") if not isinstance(payload.get(k), str)]
        if missing:
            raise SimError(400, {"message": f"missing string fields: {missing}", "status": 400})
        sender, ours, body = payload["from"], payload["to"], payload["body"]
        params = self._inbound_params(sender, ours, body, payload.get("messaging_service_sid"))
        self._track_opt_out(sender, ours, params.get("OptOutType"))
        report = lifecycle.signed_request(self, payload["url"], params)
        self.recorder.add(
            {
                "kind": "inbound",
                "done": True,
                "sid": params["MessageSid"],
                "from": sender,
                "to": ours,
                "body": body,
                "url": payload["url"],
                "params": params,
                "callbacks": [report],
            }
        )
        return {"params": params, **report}

    def _inbound_params(self, sender: str, ours: str, body: str, service_sid: Any) -> dict[str, str]:
        sid = resources.new_sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": resources.API_VERSION,
            "Body": body,
            "From": sender,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(resources.segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": ours,
        }
        if isinstance(service_sid, str) and service_sid:
            params["MessagingServiceSid"] = service_sid
        keyword = lifecycle.opt_out_type(body)
        if keyword:
            params["OptOutType"] = keyword
        return params

    def _track_opt_out(self, patient: str, ours: str, keyword: str | None) -> None:
        with self._lock:
            if keyword == "STOP":
                self._opt_outs.add((patient, ours))
            elif keyword == "START":
                self._opt_outs.discard((patient, ours))


class TwilioHandler(SimRequestHandler):
    """HTTP front of :class:`TwilioSim`."""

    server_version = "TwilioSim/1.0"
    routes = [  # class-level route table
        route("POST", f"{API}/Messages.json", "post_messages"),
        route("POST", f"{API}/Calls.json", "post_calls"),
        route("GET", f"{API}/Messages.json", "list_messages"),
        route("GET", f"{API}/Calls.json", "list_calls"),
        route("GET", f"{API}/Messages/(?P<sid>SM[0-9a-f]{{32}}).json", "get_resource"),
        route("GET", f"{API}/Calls/(?P<sid>CA[0-9a-f]{{32}}).json", "get_resource"),
        route("POST", "/_sim/inbound", "post_inbound"),
    ]

    def not_found(self) -> SimError:
        return resources.twilio_error(404, 20404, f"The requested resource {self.path_only} was not found")

    def post_messages(self, account_sid: str) -> None:
        self._create(account_sid, self.sim.create_message)

    def post_calls(self, account_sid: str) -> None:
        self._create(account_sid, self.sim.create_call)

    def _create(self, account_sid: str, create: Any) -> None:
        form = self.form()
        self.sim.authenticate(self.basic_auth(), account_sid)
        resource = self.sim.run_create(create, self.path_only, form)
        self.send_json(201, resource)

    def get_resource(self, account_sid: str, sid: str) -> None:
        self.sim.authenticate(self.basic_auth(), account_sid)
        resource = self.sim.fetch(sid)
        if resource is None:
            raise self.not_found()
        self.send_json(200, resource)

    def list_messages(self, account_sid: str) -> None:
        self._list(account_sid, "SM", "messages", "Messages")

    def list_calls(self, account_sid: str) -> None:
        self._list(account_sid, "CA", "calls", "Calls")

    def _list(self, account_sid: str, prefix: str, key: str, name: str) -> None:
        """One page of the list API, filtered by ``To`` (the only filter the project uses)."""
        self.sim.authenticate(self.basic_auth(), account_sid)
        query = parse_qs(urlsplit(self.path).query)
        size = min(1000, int((query.get("PageSize") or ["50"])[0] or 50))
        found = self.sim.newest(prefix, (query.get("To") or [""])[0], size)
        uri = f"/2010-04-01/Accounts/{account_sid}/{name}.json"
        page = {"first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None, "page": 0}
        self.send_json(200, {key: found, **page, "page_size": size, "start": 0, "end": len(found), "uri": uri})

    def post_inbound(self) -> None:
        self.send_json(200, self.sim.inbound(self.json_body()))


def start_twilio_sim(
    *,
    account_sid: str,
    auth_token: str,
    latency_ms: int = 0,
    strict: bool = True,
    max_concurrent: int | None = None,
    callback_delay_ms: int = 20,
    drop_callbacks: float = 0.0,
    drop_seed: int | None = None,
    host: str = LOOPBACK,
    port: int = 0,
    spec_path: str | None = None,
) -> SimHandle:
    """Start the Twilio simulator in this process (``port=0``: an ephemeral port)."""
    config = TwilioSimConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        latency_ms=latency_ms,
        strict=strict,
        max_concurrent=max_concurrent,
        callback_delay_ms=callback_delay_ms,
        drop_callbacks=drop_callbacks,
        drop_seed=drop_seed,
        spec_path=spec_path,
    )
    sim = TwilioSim(config)
    server, thread = serve(TwilioHandler, sim, host=host, port=port)

    def stop() -> None:
        sim.close()
        stop_server(server, thread)

    return SimHandle("twilio", server_url(server), host, server.server_address[1], sim, stop)
