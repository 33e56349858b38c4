"""Test support: credentials used by the simulator tests and a tiny webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
FAX = {
    "project_id": "test-project",
    "key_id": "test-key",
    "key_secret": "test-secret",
    "callback_user": "fax-cb",
    "callback_password": "fax-cb-password",
}
OUR_NUMBER = "+15555550100"


@dataclass
class Hit:
    """One request the receiver got."""

    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records requests and answers per path."""

    server: ThreadingHTTPServer
    hits: list[Hit] = field(default_factory=list)
    responses: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def respond(self, path: str, body: str, status: int = 200, content_type: str = "text/xml"):
        self.responses[path] = (status, body, content_type)

    def at(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if urlsplit(h.path).path == path]

    def wait(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.at(path)
            if len(hits) >= count:
                return hits
            time.sleep(0.01)
        raise TimeoutError(f"{count} hit(s) at {path} expected; got {self.at(path)!r}")


def _receiver_handler(receiver_ref: list[WebhookReceiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            receiver = receiver_ref[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            hit = Hit(self.command, receiver.base + self.path, self.path, dict(self.headers), body)
            with receiver.lock:
                receiver.hits.append(hit)
            status, text, ctype = receiver.responses.get(urlsplit(self.path).path, (200, "<Response/>", "text/xml"))
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def start_receiver() -> WebhookReceiver:
    """Start a receiver on an ephemeral loopback port (stop it with :func:`stop_receiver`)."""
    ref: list[WebhookReceiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(ref))
    server.daemon_threads = True
    ref.append(WebhookReceiver(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return ref[0]


def stop_receiver(receiver: WebhookReceiver) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()
