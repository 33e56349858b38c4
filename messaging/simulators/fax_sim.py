"""A local fax API in the Sinch Fax v3 shape, over real HTTP.

* ``POST /v3/projects/{projectId}/faxes`` – multipart form (``to``, ``callbackUrl``,
  ``callbackUrlContentType``, ``file``) or JSON with ``contentUrl``; HTTP basic auth with the
  access key (key id : key secret). Answers 200 with the fax object: ``id``, ``direction``
  ``OUTBOUND``, ``to``, ``from``, ``status`` ``QUEUED``, ``createTime``, ``numberOfPages`` …
* ``GET /v3/projects/{projectId}/faxes/{id}`` – the fax object's current state.
* the shared ``/_sim/received``, ``/_sim/reset``, ``/_sim/outcomes``.

Errors use the Google-style body Sinch APIs answer with:
``{"error": {"code": 400, "message": "…", "status": "INVALID_ARGUMENT"}}`` (401
``UNAUTHENTICATED``, 403 ``PERMISSION_DENIED`` for another project, 404 ``NOT_FOUND``).

After acceptance the fax goes ``IN_PROGRESS`` and then ``COMPLETED`` or ``FAILURE``; one
``FAX_COMPLETED`` callback is POSTed as JSON to ``callbackUrl``:
``{"event": "FAX_COMPLETED", "eventTime": …, "fax": {… "status", "errorType", "errorCode",
"errorMessage"}}``, with ``Authorization: Basic`` (the configured callback user and password)
so the webhook can authenticate it.

Outcomes by the destination's last digits (error codes and types as in Sinch's catalogue, where
busy / ring timeout / not operational are ``CALL_ERROR``s and handshake failures ``FAX_ERROR``s):

==========  =========  ==========  ====  ====================================
``to`` ends status     errorType   code  errorMessage
==========  =========  ==========  ====  ====================================
0021        FAILURE    CALL_ERROR  17    Busy (soft)
0022        FAILURE    CALL_ERROR  16    Ring Timeout (soft: no answer)
0023        FAILURE    CALL_ERROR  34    Phone number not operational (hard)
0024        FAILURE    FAX_ERROR   132   No fax tone detected (not a fax machine)
(other)     COMPLETED  –           –     –
==========  =========  ==========  ====  ====================================

A file that is not a PDF fails with ``DOCUMENT_CONVERSION_ERROR`` 129 (mimetype not supported).
Overrides: ``POST /_sim/outcomes`` ``{"faxes": {"+15551230099": {"status": "FAILURE",
"error_type": "CALL_ERROR", "error_code": 15, "error_message": "Congestion"}}, "replace": false}``.
"""

from __future__ import annotations

import email.policy
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email.parser import BytesParser
from hmac import compare_digest
from typing import Any

from messaging.simulators.base import (
    JSON_HEADERS,
    LOOPBACK,
    CallbackSender,
    Recorder,
    SimError,
    SimHandle,
    SimRequestHandler,
    basic_auth_header,
    iso_now,
    route,
    serve,
    server_url,
    stop_server,
    suffix_match,
)

logger = logging.getLogger("messaging.simulators.fax")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_FAXES = 2000


@dataclass(frozen=True)
class FaxOutcome:
    status: str = "COMPLETED"
    error_type: str | None = None
    error_code: int | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if self.status not in ("COMPLETED", "FAILURE"):
            raise ValueError("fax status must be COMPLETED or FAILURE")
        if self.status == "FAILURE" and not (self.error_type and self.error_code is not None):
            raise ValueError("a FAILURE outcome needs error_type and error_code")


DEFAULT_FAX_OUTCOMES = {
    "0021": FaxOutcome("FAILURE", "CALL_ERROR", 17, "Busy"),
    "0022": FaxOutcome("FAILURE", "CALL_ERROR", 16, "Ring Timeout"),
    "0023": FaxOutcome("FAILURE", "CALL_ERROR", 34, "Phone number not operational"),
    "0024": FaxOutcome("FAILURE", "FAX_ERROR", 132, "No fax tone detected"),
}
NOT_A_PDF = FaxOutcome("FAILURE", "DOCUMENT_CONVERSION_ERROR", 129, "Mimetype not supported.")


def sinch_error(status: int, reason: str, message: str) -> SimError:
    return SimError(status, {"error": {"code": status, "message": message, "status": reason}})


def new_fax_id() -> str:
    """A 26-character ULID-like id (time-ordered), the form Sinch fax ids take."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def count_pages(pdf: bytes) -> int:
    return max(1, len(_PAGE.findall(pdf)))


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Any]]:
    """(fields, files) of a multipart/form-data body; files map name -> (filename, bytes, type)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise sinch_error(400, "INVALID_ARGUMENT", "expected multipart/form-data")
    fields: dict[str, str] = {}
    files: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not name:
            continue
        if part.get_filename():
            files[str(name)] = (part.get_filename(), payload, part.get_content_type())
        else:
            fields[str(name)] = payload.decode("utf-8", "replace")
    return fields, files


@dataclass(frozen=True)
class FaxSimConfig:
    project_id: str
    key_id: str
    key_secret: str
    callback_user: str = ""
    callback_password: str = ""
    callback_delay_ms: int = 50
    drop_callbacks: float = 0.0  # share of status callbacks lost on purpose (0..1)
    drop_seed: int | None = None
    latency_ms: int = 0
    from_number: str = "+15555550199"


class FaxSim:
    """State and behaviour of the simulated fax account (independent of HTTP)."""

    def __init__(self, config: FaxSimConfig):
        self.config = config
        self.recorder = Recorder()
        self.sender = CallbackSender(
            delay_s=config.callback_delay_ms / 1000, drop_share=config.drop_callbacks, seed=config.drop_seed
        )
        self._lock = threading.Lock()
        self._faxes: dict[str, dict[str, Any]] = {}
        self._overrides: dict[str, FaxOutcome] = {}

    # --- control surface
    def received(self) -> list[dict[str, Any]]:
        return self.recorder.snapshot()

    def reset(self) -> None:
        self.recorder.clear()
        with self._lock:
            self._faxes.clear()
            self._overrides.clear()

    def set_outcomes(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        section = overrides.get("faxes") or {}
        if not isinstance(section, Mapping):
            raise ValueError("'faxes' must be an object of number suffix -> outcome")
        parsed = {str(k): FaxOutcome(**dict(v)) for k, v in section.items()}
        with self._lock:
            if overrides.get("replace"):
                self._overrides.clear()
            self._overrides.update(parsed)
            merged = {**DEFAULT_FAX_OUTCOMES, **self._overrides}
        return {"faxes": {k: asdict(v) for k, v in merged.items()}}

    def close(self) -> None:
        self.sender.shutdown()

    def outcome_for(self, to: str) -> FaxOutcome:
        with self._lock:
            chosen = suffix_match(self._overrides, to)
        return chosen or suffix_match(DEFAULT_FAX_OUTCOMES, to) or FaxOutcome()

    # --- API
    def authenticate(self, credentials: tuple[str, str] | None, project_id: str) -> None:
        user, password = credentials or ("", "")
        valid = compare_digest(user.encode(), self.config.key_id.encode()) and compare_digest(
            password.encode(), self.config.key_secret.encode()
        )
        if not valid:
            raise sinch_error(401, "UNAUTHENTICATED", "Invalid or missing credentials")
        if project_id != self.config.project_id:
            raise sinch_error(403, "PERMISSION_DENIED", f"No access to project {project_id}")

    def create_fax(self, fields: Mapping[str, str], files: Mapping[str, Any]) -> dict[str, Any]:
        to, callback_url = fields.get("to", ""), fields.get("callbackUrl", "")
        record = self.recorder.add({"kind": "fax", "to": to, "callback_url": callback_url})
        try:
            document = self._validate(to, callback_url, fields, files)
        except SimError as exc:
            self.recorder.update(record, accepted=False, done=True, error=exc.body["error"])
            raise
        time.sleep(self.config.latency_ms / 1000)
        fax = self._fax_object(to, fields, document)
        outcome = self.outcome_for(to) if document["is_pdf"] else NOT_A_PDF
        with self._lock:
            self._faxes[fax["id"]] = fax
            while len(self._faxes) > MAX_FAXES:
                self._faxes.pop(next(iter(self._faxes)))
        self.recorder.update(
            record,
            id=fax["id"],
            accepted=True,
            done=False,
            pages=fax["numberOfPages"],
            size=document["size"],
            filename=document["filename"],
            status="QUEUED",
            outcome=asdict(outcome),
            callbacks=[],
        )
        logger.info("accepted fax %s (outcome %s)", fax["id"], outcome.status)
        self.sender.submit(self._run, record, fax["id"], outcome)
        return dict(fax)

    def fetch(self, fax_id: str) -> dict[str, Any] | None:
        with self._lock:
            fax = self._faxes.get(fax_id)
            return dict(fax) if fax else None

    def _validate(
        self, to: str, callback_url: str, fields: Mapping[str, str], files: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not to:
            raise sinch_error(400, "INVALID_ARGUMENT", "'to' is required")
        if not _E164.match(to):
            raise sinch_error(400, "INVALID_ARGUMENT", f"'to' must be E.164, got {to!r}")
        if callback_url and not callback_url.startswith(("http://", "https://")):
            raise sinch_error(400, "INVALID_ARGUMENT", "'callbackUrl' must be an http(s) URL")
        upload = files.get("file")
        if upload is None and not fields.get("contentUrl"):
            raise sinch_error(400, "INVALID_ARGUMENT", "a 'file' or 'contentUrl' is required")
        if upload is None:
            return {"filename": None, "size": 0, "pages": 1, "is_pdf": True}
        filename, data, _content_type = upload
        return {
            "filename": filename,
            "size": len(data),
            "pages": count_pages(data),
            "is_pdf": data.startswith(b"%PDF-"),
        }

    def _fax_object(self, to: str, fields: Mapping[str, str], document: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": new_fax_id(),
            "direction": "OUTBOUND",
            "from": self.config.from_number,
            "to": to,
            "numberOfPages": document["pages"],
            "status": "QUEUED",
            "createTime": iso_now(),
            "callbackUrl": fields.get("callbackUrl"),
            "callbackUrlContentType": fields.get("callbackUrlContentType", "application/json"),
            "imageConversionMethod": "HALFTONE",
            "headerPageNumbers": True,
            "maxRetries": 0,
            "retryCount": 0,
            "hasFile": "false",
            "resolution": "FINE",
            "projectId": self.config.project_id,
            "serviceId": "SIMULATED-FAX-SERVICE",
        }

    # --- lifecycle (callback pool)
    def _run(self, record: dict[str, Any], fax_id: str, outcome: FaxOutcome) -> None:
        if not self.sender.pause():
            return
        self._update(fax_id, status="IN_PROGRESS")
        self.recorder.update(record, status="IN_PROGRESS")
        if not self.sender.pause(2):
            return
        fax = self._finish(fax_id, outcome)
        self.recorder.update(record, status=fax["status"])
        if fax.get("callbackUrl") and self.sender.drops():
            self.recorder.append_to(record, "callbacks", {"event": "FAX_COMPLETED", "dropped": True})
        elif fax.get("callbackUrl"):
            report = self._send_callback(fax)
            self.recorder.append_to(record, "callbacks", {"event": "FAX_COMPLETED", **report})
        self.recorder.update(record, done=True)

    def _finish(self, fax_id: str, outcome: FaxOutcome) -> dict[str, Any]:
        changes: dict[str, Any] = {"status": outcome.status, "completedTime": iso_now()}
        if outcome.status == "COMPLETED":
            pages = (self.fetch(fax_id) or {}).get("numberOfPages", 1)
            changes.update(
                pagesSentSuccessfully=pages,
                price={"amount": f"{0.07 * pages:.4f}", "currencyCode": "USD"},
            )
        else:
            changes.update(
                errorType=outcome.error_type,
                errorCode=outcome.error_code,
                errorMessage=outcome.error_message,
                pagesSentSuccessfully=0,
            )
        return self._update(fax_id, **changes)

    def _update(self, fax_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            fax = self._faxes.setdefault(fax_id, {"id": fax_id})
            fax.update(changes)
            return dict(fax)

    def _send_callback(self, fax: Mapping[str, Any]) -> dict[str, Any]:
        event = {"event": "FAX_COMPLETED", "eventTime": iso_now(), "fax": dict(fax)}
        headers = dict(JSON_HEADERS)
        if self.config.callback_user:
            headers["Authorization"] = basic_auth_header(self.config.callback_user, self.config.callback_password)
        body = json.dumps(event).encode("utf-8")
        report = self.sender.send("POST", fax["callbackUrl"], body=body, headers=headers)
        return {k: v for k, v in report.items() if k != "response"}


class FaxHandler(SimRequestHandler):
    """HTTP front of :class:`FaxSim`."""

    server_version = "FaxSim/1.0"
    routes = [  # class-level route table
        route("POST", "/v3/projects/(?P<project_id>[^/]+)/faxes", "post_fax"),
        route("GET", "/v3/projects/(?P<project_id>[^/]+)/faxes/(?P<fax_id>[^/]+)", "get_fax"),
    ]

    def not_found(self) -> SimError:
        return sinch_error(404, "NOT_FOUND", f"{self.path_only} not found")

    def post_fax(self, project_id: str) -> None:
        body = self.read_body()
        self.sim.authenticate(self.basic_auth(), project_id)
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            fields, files = parse_multipart(content_type, body)
        elif content_type.startswith("application/json"):
            payload = self.json_body()
            fields = {k: str(v) for k, v in payload.items() if isinstance(v, str | int)}
            files = {}
        else:
            raise sinch_error(415, "INVALID_ARGUMENT", "use multipart/form-data or JSON")
        self.send_json(200, self.sim.create_fax(fields, files))

    def get_fax(self, project_id: str, fax_id: str) -> None:
        self.sim.authenticate(self.basic_auth(), project_id)
        fax = self.sim.fetch(fax_id)
        if fax is None:
            raise self.not_found()
        self.send_json(200, fax)


def start_fax_sim(
    *,
    project_id: str = "demo-project",
    key_id: str = "demo-key",
    key_secret: str = "demo-secret",
    callback_user: str = "",
    callback_password: str = "",
    callback_delay_ms: int = 20,
    drop_callbacks: float = 0.0,
    drop_seed: int | None = None,
    latency_ms: int = 0,
    host: str = LOOPBACK,
    port: int = 0,
) -> SimHandle:
    """Start the fax simulator in this process (``port=0``: an ephemeral port)."""
    sim = FaxSim(
        FaxSimConfig(
            project_id=project_id,
            key_id=key_id,
            key_secret=key_secret,
            callback_user=callback_user,
            callback_password=callback_password,
            callback_delay_ms=callback_delay_ms,
            drop_callbacks=drop_callbacks,
            drop_seed=drop_seed,
            latency_ms=latency_ms,
        )
    )
    server, thread = serve(FaxHandler, sim, host=host, port=port)

    def stop() -> None:
        sim.close()
        stop_server(server, thread)

    return SimHandle("fax", server_url(server), host, server.server_address[1], sim, stop)
