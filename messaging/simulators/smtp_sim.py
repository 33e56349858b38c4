"""A local SMTP server that keeps what it receives and refuses chosen recipients at RCPT time.

Built on aiosmtpd's ``Controller``: Django's SMTP ``EmailBackend`` (or smtplib) talks real SMTP
to it. A receiving MTA refuses a bad recipient during the transaction by answering ``RCPT TO``
with a 4xx/5xx reply; the client sees ``SMTPRecipientsRefused`` (all refused) or a refused dict
(some refused). Default refusals (the local part before any ``+tag`` is matched, so
``hard-bounce+42@example.org`` refuses too):

======================  ===============================================================
recipient               reply
======================  ===============================================================
``hard-bounce@…``       550 5.1.1 <addr>: Recipient address rejected: User unknown in
                        virtual mailbox table
``mailbox-full@…``      452 4.2.2 Mailbox full
``…@nonexistent.example``  550 5.1.2 Host unknown
``spam-block@…``        554 5.7.1 Service unavailable; client host blocked using
                        zen.spamhaus.org
======================  ===============================================================

Runtime rules: ``POST /_sim/outcomes`` ``{"rules": {"someone@x.org": "550 5.1.1 No such user",
"@blocked.example": "554 5.7.1 Blocked", "fussy": null}, "replace": false}`` – keys are a full
address, ``@domain`` or a local part; ``null`` accepts; ``{addr}`` in a reply is replaced.

A tiny HTTP control server exposes ``GET /_sim/received`` and ``POST /_sim/reset`` like the
other simulators. Each accepted message is recorded with its envelope, subject, headers
(including ``List-Unsubscribe``), the size of each MIME part and its text/HTML bodies (truncated).
"""

from __future__ import annotations

import email.policy
import errno
import logging
import secrets
import socket
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from messaging.simulators.base import (
    LOOPBACK,
    Recorder,
    SimHandle,
    SimRequestHandler,
    serve,
    server_url,
    stop_server,
)

logger = logging.getLogger("messaging.simulators.smtp")
DEFAULT_RULES: dict[str, str | None] = {
    "hard-bounce": ("550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox table"),
    "mailbox-full": "452 4.2.2 Mailbox full",
    "@nonexistent.example": "550 5.1.2 Host unknown",
    "spam-block": "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",
}
BODY_CHARS = 20_000
MAX_HEADERS = 100


class SmtpSim:
    """Recipient rules and the record of received mail (shared by SMTP and HTTP threads)."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self._lock = threading.Lock()
        self._rules: dict[str, str | None] = {}
        self._sessions = 0

    # --- control surface
    def received(self) -> list[dict[str, Any]]:
        return self.recorder.snapshot()

    def reset(self) -> None:
        self.recorder.clear()
        with self._lock:
            self._rules.clear()

    def set_outcomes(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        rules = overrides.get("rules") or {}
        if not isinstance(rules, Mapping):
            raise ValueError("'rules' must be an object of address/@domain/local part -> reply")
        for key, reply in rules.items():
            if reply is not None and not _is_reply(str(reply)):
                raise ValueError(f"rule {key!r}: reply must start with a 4xx/5xx code")
        with self._lock:
            if overrides.get("replace"):
                self._rules.clear()
            self._rules.update({str(k).lower(): v for k, v in rules.items()})
            merged = {**DEFAULT_RULES, **self._rules}
        return {"rules": merged}

    # --- SMTP behaviour
    def rcpt_reply(self, address: str) -> str | None:
        """The refusal for ``address``, or None to accept it."""
        with self._lock:
            rules = {**DEFAULT_RULES, **self._rules}
        local, _, domain = address.lower().partition("@")
        for key in (address.lower(), f"@{domain}", local.split("+", 1)[0]):
            if key in rules:
                reply = rules[key]
                return reply.replace("{addr}", address) if reply else None
        return None

    def record_refusal(self, mail_from: str | None, address: str, reply: str) -> None:
        self.recorder.add({"kind": "rcpt_refused", "mail_from": mail_from, "rcpt": address, "reply": reply})

    def session_number(self, session: Any) -> int:
        """A number for an SMTP session (one connection), the same for every message it carries."""
        number = getattr(session, "pimsy_number", None)
        if number is None:
            with self._lock:
                self._sessions += 1
                number = session.pimsy_number = self._sessions
        return number

    def record_message(self, mail_from: str | None, rcpt_tos: list[str], data: bytes, *, session: int = 0) -> str:
        queue_id = secrets.token_hex(5).upper()
        message = BytesParser(policy=email.policy.default).parsebytes(data)
        self.recorder.add(
            {
                "kind": "email",
                "queue_id": queue_id,
                "mail_from": mail_from,
                "rcpt_tos": list(rcpt_tos),
                "session": session,
                "size": len(data),
                **describe_message(message),
            }
        )
        logger.info("accepted mail %s for %d recipient(s)", queue_id, len(rcpt_tos))
        return queue_id


def describe_message(message: EmailMessage) -> dict[str, Any]:
    """Subject, headers and part sizes of a parsed message (bodies truncated)."""
    parts, attachments, bodies = [], [], {"text": None, "html": None}
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        info = {"content_type": part.get_content_type(), "size": len(payload)}
        parts.append(info)
        if part.get_filename() or part.get_content_disposition() == "attachment":
            attachments.append({**info, "filename": part.get_filename()})
            continue
        key = {"text/plain": "text", "text/html": "html"}.get(info["content_type"])
        if key and bodies[key] is None:
            charset = part.get_content_charset() or "utf-8"
            bodies[key] = payload.decode(charset, "replace")
    return {
        "subject": str(message.get("Subject", "")),
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "message_id": str(message.get("Message-ID", "")),
        "list_unsubscribe": _header(message, "List-Unsubscribe"),
        "list_unsubscribe_post": _header(message, "List-Unsubscribe-Post"),
        "headers": [[k, str(v)] for k, v in list(message.items())[:MAX_HEADERS]],
        "parts": parts,
        "attachments": attachments,
        "text_size": len(bodies["text"] or ""),
        "html_size": len(bodies["html"] or ""),
        "text": (bodies["text"] or "")[:BODY_CHARS] or None,
        "html": (bodies["html"] or "")[:BODY_CHARS] or None,
    }


def _header(message: EmailMessage, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value)


def _is_reply(reply: str) -> bool:
    return len(reply) >= 3 and reply[:3].isdigit() and reply[0] in "45"


class SmtpHandler:
    """aiosmtpd handler: refuse by rule at RCPT, record at DATA."""

    def __init__(self, sim: SmtpSim):
        self.sim = sim

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.sim.rcpt_reply(address)
        if reply:
            self.sim.record_refusal(envelope.mail_from, address, reply)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        number = self.sim.session_number(session)
        queue_id = self.sim.record_message(envelope.mail_from, envelope.rcpt_tos, data, session=number)
        return f"250 2.0.0 Ok: queued as {queue_id}"


class SmtpControlHandler(SimRequestHandler):
    """HTTP control endpoint of the SMTP simulator (only the shared ``/_sim/*`` routes)."""

    server_version = "SmtpSimControl/1.0"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _start_controller(sim: SmtpSim, host: str, port: int) -> Controller:
    """Start aiosmtpd; with ``port=0`` pick a free port (retrying a few times on a race)."""
    for _attempt in range(5):
        chosen = port or free_port(host)
        controller = Controller(SmtpHandler(sim), hostname=host, port=chosen, ready_timeout=5.0)
        try:
            controller.start()
        except OSError as exc:
            if port or exc.errno != errno.EADDRINUSE:
                raise
            continue
        return controller
    raise OSError(errno.EADDRINUSE, "no free port for the SMTP simulator")


def start_smtp_sim(*, host: str = LOOPBACK, port: int = 0, control_port: int = 0) -> SimHandle:
    """Start the SMTP simulator and its HTTP control endpoint in this process.

    The handle's ``host``/``port`` are the SMTP server's; ``url`` is the control endpoint.
    """
    sim = SmtpSim()
    controller = _start_controller(sim, host, port)
    try:
        server, thread = serve(SmtpControlHandler, sim, host=host, port=control_port)
    except OSError:
        controller.stop()
        raise

    def stop() -> None:
        stop_server(server, thread)
        controller.stop()

    return SimHandle("smtp", server_url(server), host, controller.port, sim, stop)
