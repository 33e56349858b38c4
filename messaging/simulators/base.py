"""Shared plumbing for the local provider simulators.

Each simulator is a small threaded HTTP server on a loopback address that speaks one provider's
HTTP API, plus a common control surface that tests and the demo page read the same way:

* ``GET  /_sim/received`` – JSON list of what the simulator received (bounded, oldest dropped);
* ``POST /_sim/reset``    – forget everything received and every runtime override;
* ``POST /_sim/outcomes`` – override outcomes at runtime (the body's shape is per simulator).

Callbacks to the application (status webhooks) go out from a small thread pool with a delay, a
few retries on connection errors and hard timeouts, the way a provider's webhook sender works:
they never block the API response and never crash the server.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

import requests

logger = logging.getLogger("messaging.simulators")

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 25 * 1024 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}


class Simulator(Protocol):
    """What the control endpoints and :class:`SimHandle` need from a simulator."""

    def received(self) -> list[dict[str, Any]]: ...

    def reset(self) -> None: ...

    def set_outcomes(self, overrides: Mapping[str, Any]) -> dict[str, Any]: ...


class SimError(Exception):
    """An HTTP error answer: raised inside a route, rendered by the handler as JSON."""

    def __init__(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_now() -> str:
    """ISO-8601 UTC timestamp with a ``Z`` suffix (the form the control endpoints report)."""
    return utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Recorder:
    """A bounded, thread-safe list of what a simulator received (dicts, newest last)."""

    def __init__(self, max_records: int = 2000):
        self._lock = threading.Lock()
        self._records: deque[dict[str, Any]] = deque(maxlen=max_records)

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        record.setdefault("time", iso_now())
        with self._lock:
            self._records.append(record)
        return record

    def update(self, record: dict[str, Any], **changes: Any) -> None:
        with self._lock:
            record.update(changes)

    def append_to(self, record: dict[str, Any], key: str, item: Any) -> None:
        with self._lock:
            record.setdefault(key, []).append(item)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._records))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def suffix_match(table: Mapping[str, Any], key: str) -> Any | None:
    """The entry of ``table`` whose key is the longest suffix of ``key`` (None if none)."""
    best: str | None = None
    for suffix in table:
        if key.endswith(suffix) and (best is None or len(suffix) > len(best)):
            best = suffix
    return None if best is None else table[best]


def basic_auth_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an ``Authorization: Basic …`` header, or None."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


# --- outgoing webhooks --------------------------------------------------------------------------


@dataclass
class CallbackSender:
    """Sends webhooks from a thread pool, like a provider's webhook workers.

    ``delay_s`` is waited before each step of a lifecycle (see :meth:`pause`); connection errors
    are retried ``attempts`` times with a short back-off; every request has a hard timeout.

    ``drop_share`` (0..1) loses that share of status callbacks on purpose (:meth:`drops`), as a
    provider whose webhook never reaches us: the application must ask the provider itself
    (``messaging.dispatch.reconcile``). ``dropped`` counts them; ``seed`` makes the choice repeatable.
    """

    delay_s: float = 0.05
    attempts: int = 3
    timeout_s: float = 5.0
    max_workers: int = 16
    drop_share: float = 0.0
    seed: int | None = None
    dropped: int = field(default=0, init=False)
    _random: random.Random = field(init=False)
    _drop_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stopped: threading.Event = field(default_factory=threading.Event, init=False)
    _local: threading.local = field(default_factory=threading.local, init=False)
    _pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="sim-callback")
        self._random = random.Random(self.seed)

    def drops(self) -> bool:
        """Whether to lose this status callback (``drop_share`` of them); counted in ``dropped``."""
        if self.drop_share <= 0:
            return False
        with self._drop_lock:
            lost = self._random.random() < self.drop_share
            self.dropped += lost
        return lost

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        """Run ``job(*args)`` in the pool; any exception is logged, never raised."""
        if self._stopped.is_set():
            return
        try:
            self._pool.submit(self._run_safely, job, *args)
        except RuntimeError:  # pool already shut down
            logger.debug("simulator callback pool is shut down; job dropped")

    def _run_safely(self, job: Callable[..., None], *args: Any) -> None:
        try:
            job(*args)
        except Exception:
            logger.exception("simulator callback job failed")

    def pause(self, factor: float = 1.0) -> bool:
        """Wait one step's delay; False when the simulator is stopping (abandon the job)."""
        return not self._stopped.wait(max(0.0, self.delay_s * factor))

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One webhook request with retries; returns a JSON-able report of what happened."""
        report: dict[str, Any] = {"url": url, "method": method, "http_status": None, "error": None}
        for attempt in range(1, self.attempts + 1):
            report["attempts"] = attempt
            try:
                response = self._session().request(
                    method,
                    url,
                    data=body if body is not None else data,
                    headers=dict(headers or {}),
                    timeout=self.timeout_s,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                report["error"] = f"{type(exc).__name__}: {exc}"[:300]
                if attempt == self.attempts or self._stopped.wait(0.1 * attempt * attempt):
                    break
                continue
            report.update(http_status=response.status_code, error=None, response=response.text[:4000])
            break
        report["time"] = iso_now()
        if report["error"]:
            logger.info("webhook %s %s failed after %s attempts: %s", method, url, report["attempts"], report["error"])
        return report

    def shutdown(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


# --- HTTP server ----------------------------------------------------------------------------------

Route = tuple[str, re.Pattern[str], str]


def route(method: str, pattern: str, handler_name: str) -> Route:
    """A route: HTTP method, a path regex with named groups, and the handler method's name."""
    return (method, re.compile(f"^{pattern}$"), handler_name)


class SimHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that carries its simulator object for the handlers."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog: bursts of concurrent clients (benchmarks)

    def __init__(self, address: tuple[str, int], handler: type[SimRequestHandler], sim: Any):
        self.sim = sim
        super().__init__(address, handler)


class SimRequestHandler(BaseHTTPRequestHandler):
    """Routing, JSON answers and the shared ``/_sim/*`` control endpoints."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: no 40 ms delayed-ACK stall per request
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: SimHTTPServer
    routes: ClassVar[list[Route]] = []
    control_routes: ClassVar[list[Route]] = [
        route("GET", "/_sim/received", "control_received"),
        route("POST", "/_sim/reset", "control_reset"),
        route("POST", "/_sim/outcomes", "control_outcomes"),
        route("GET", "/_sim/health", "control_health"),
    ]

    _body: bytes | None = None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    @property
    def sim(self) -> Any:
        return self.server.sim

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    def _dispatch(self, method: str) -> None:
        self._body = None
        try:
            handler, params = self._find_route(method)
            handler(**params)
        except SimError as exc:
            self._close_if_body_unread()
            self.send_json(exc.status, exc.body, exc.headers)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout)
            logger.info("client went away before the answer to %s %s", method, self.path_only)
            self.close_connection = True
        except Exception:
            logger.exception("simulator handler failed for %s %s", method, self.path)
            self._close_if_body_unread()
            self.send_json(500, {"message": "simulator internal error", "status": 500})

    def _close_if_body_unread(self) -> None:
        """An unread body would be parsed as the next request on a kept-alive connection."""
        if self._body is None and int(self.headers.get("Content-Length") or 0) > 0:
            self.close_connection = True

    def _find_route(self, method: str) -> tuple[Callable[..., None], dict[str, str]]:
        path = self.path_only
        allowed = False
        for route_method, pattern, name in [*self.control_routes, *self.routes]:
            match = pattern.match(path)
            if match:
                allowed = True
                if route_method == method:
                    return getattr(self, name), match.groupdict()
        if allowed:
            raise SimError(405, {"message": "Method not allowed", "status": 405})
        raise self.not_found()

    def not_found(self) -> SimError:
        return SimError(
            404,
            {"message": f"The requested resource {self.path_only} was not found", "status": 404},
        )

    # --- request helpers
    def read_body(self) -> bytes:
        if self._body is None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                raise SimError(413, {"message": "Request entity too large", "status": 413})
            self._body = self.rfile.read(length) if length > 0 else b""
        return self._body

    def form(self) -> dict[str, list[str]]:
        """The form-encoded body as a multi-dict (a key may repeat, e.g. StatusCallbackEvent)."""
        return parse_qs(self.read_body().decode("utf-8"), keep_blank_values=True)

    def json_body(self) -> Any:
        raw = self.read_body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise SimError(400, {"message": f"Invalid JSON: {exc}", "status": 400}) from exc

    def basic_auth(self) -> tuple[str, str] | None:
        return parse_basic_auth(self.headers.get("Authorization"))

    # --- response helpers
    def send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(payload, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # --- shared control endpoints
    def control_received(self) -> None:
        self.send_json(200, self.sim.received())

    def control_reset(self) -> None:
        self.read_body()
        self.sim.reset()
        self.send_json(200, {"reset": True})

    def control_outcomes(self) -> None:
        payload = self.json_body()
        if not isinstance(payload, dict):
            raise SimError(400, {"message": "expected a JSON object", "status": 400})
        try:
            result = self.sim.set_outcomes(payload)
        except (ValueError, TypeError) as exc:
            raise SimError(400, {"message": str(exc), "status": 400}) from exc
        self.send_json(200, result)

    def control_health(self) -> None:
        self.send_json(200, {"ok": True})


def serve(
    handler: type[SimRequestHandler], sim: Any, *, host: str = LOOPBACK, port: int = 0
) -> tuple[SimHTTPServer, threading.Thread]:
    """Bind ``handler`` on ``host:port`` (0 = ephemeral) and serve it from a daemon thread."""
    server = SimHTTPServer((host, port), handler, sim)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"{type(sim).__name__}-http",
        daemon=True,
    )
    thread.start()
    return server, thread


def stop_server(server: SimHTTPServer, thread: threading.Thread, timeout: float = 5.0) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout)


def server_url(server: SimHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


# --- handle returned to tests and the runner -----------------------------------------------------


@dataclass
class SimHandle:
    """A running simulator: its base URL, and in-process access to what it received.

    ``url`` is the HTTP base URL (the provider API for Twilio and fax, the control endpoint for
    SMTP); ``port`` is the port of the provider protocol (HTTP or SMTP).
    """

    name: str
    url: str
    host: str
    port: int
    sim: Any
    _stop: Callable[[], None]
    _stopped: bool = field(default=False, init=False)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._stop()

    def received(self) -> list[dict[str, Any]]:
        return self.sim.received()

    def reset(self) -> None:
        self.sim.reset()

    def set_outcomes(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return self.sim.set_outcomes(overrides)

    def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        *,
        timeout: float = 5.0,
        interval: float = 0.02,
    ) -> list[dict[str, Any]]:
        """Poll :meth:`received` until ``predicate`` holds; TimeoutError with the last snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.received()
            if predicate(records):
                return records
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: condition not met in {timeout}s; received={records!r}")
            time.sleep(interval)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def first(values: Mapping[str, list[str]], key: str, default: str | None = None) -> str | None:
    """The first value of a multi-dict key."""
    items = values.get(key)
    return items[0] if items else default


def flatten(values: Mapping[str, list[str]], multi: Iterable[str] = ()) -> dict[str, Any]:
    """A multi-dict as a plain dict: lists only for the keys in ``multi``."""
    multi = set(multi)
    return {k: (list(v) if k in multi else v[0]) for k, v in values.items() if v}
