"""Dispatcher throughput and worker memory: 20,000 SMS against the Twilio simulator (20 ms latency).

In one run, against the same simulator process:

1. **bare loop** – ``client.messages.create`` from ``C`` threads in a separate process, nothing else;
2. **system** – 20,000 queued deliveries in PostgreSQL, a real ``celery worker --pool threads -c C``
   with Redis as the broker, sweeps as Celery beat would send them; timed from the first sweep
   until every delivery is ``sent`` (the provider accepted it);
3. the bare loop again (the reference is the mean of both, which evens out noisy neighbours).

Prints both throughputs, their ratio (goal ≥ 0.9) and the worker's resident memory after start-up,
after warm-up (the first 10 %) and at the end (goal: ≤ 20 MB growth over the run).

The simulator's status callbacks go to a sink process in both runs (the callback path is the web
tier's work, not the dispatcher's); the SMS rate limit is off (``RATE_SMS_PER_SECOND=0``) so the
provider, not our pacing, is the limit; time runs from a Tuesday morning (``PIMSY_CLOCK_FILE``) so
stop times never interfere.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench .venv/bin/python bench/bench_dispatch.py
    options: --messages 20000 --concurrency 8 --latency-ms 20 --broker redis://127.0.0.1:6379/4
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zoneinfo
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCOUNT_SID = "AC00000000000000000000000000000000"
AUTH_TOKEN = "demo-auth-token"
FROM_NUMBER = "+15555550100"
BODY = "Riverbend Behavioral Health: Office closed Friday"
TUESDAY_MORNING = dt.datetime(2025, 6, 3, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))

SINK_CODE = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def number(n: int) -> str:
    """A valid US mobile-looking number whose last digits never pick a failing simulator outcome."""
    return f"+1617{555 + n // 8000:03d}{2000 + n % 8000:04d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def process(
    command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen]:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the bare loop (run in its own process, like the worker) -----------------------------------------


def bare_loop(api_base: str, sink: str, messages: int, concurrency: int) -> float:
    from messaging.channels.twilio_client import get_twilio_client

    client = get_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=api_base)
    callback = f"{sink}/webhooks/twilio/sms/bare-loop-token/status"

    def send(n: int) -> str:
        to = number(n)
        return client.messages.create(to=to, from_=FROM_NUMBER, body=BODY, status_callback=callback).sid

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        sids = list(pool.map(send, range(messages)))
    elapsed = time.perf_counter() - started
    assert len(set(sids)) == messages
    return messages / elapsed


def run_bare(api_base: str, sink: str, messages: int, concurrency: int) -> float:
    command = [sys.executable, __file__, "--bare", api_base, sink, str(messages), str(concurrency)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=base_env())
    if done.returncode:
        raise RuntimeError(f"the bare loop failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["rate"])


# --- the system -------------------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    return {**os.environ, "PIMSY_TESTING": "1", "LOG_LEVEL": "WARNING"}


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[-1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare(messages: int) -> list[int]:
    """Empty bench tables, then ``messages`` consenting clients with one queued SMS each (not yet due)."""
    from django.db import connection

    from clients.models import Client, MessagingProfile
    from messaging.models import Broadcast, Delivery, MessageType

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_attempt, messaging_providerevent, messaging_delivery, messaging_broadcast, "
            "clients_messagingprofile, clients_messagingcontact, clients_client RESTART IDENTITY CASCADE"
        )
    kind = MessageType.objects.get(code="ad-hoc-clients")
    later = TUESDAY_MORNING + dt.timedelta(days=365)
    broadcast = Broadcast.objects.create(
        message_type=kind, description="Office closed Friday", broadcast_at=later, channels=["sms"]
    )
    ids: list[int] = []
    for start in range(0, messages, 2000):
        numbers = [number(n) for n in range(start, min(messages, start + 2000))]
        clients = Client.objects.bulk_create(
            [Client(first_name="Bench", last_name="Client", cell_phone=n) for n in numbers]
        )
        MessagingProfile.objects.bulk_create([MessagingProfile(client=c, consent_given=True) for c in clients])
        rows = Delivery.objects.bulk_create(
            [
                Delivery(
                    broadcast=broadcast, message_type=kind, channel="sms", client=c, address=n, next_attempt_at=later
                )
                for c, n in zip(clients, numbers, strict=True)
            ]
        )
        ids += [r.pk for r in rows]
    return ids


def sent_count() -> int:
    from messaging.models import Delivery

    return Delivery.objects.filter(status__in=["sent", "delivered"]).count()


def run_system(args: argparse.Namespace, env: dict[str, str], logs: Path) -> dict[str, float]:
    from celery import Celery

    from messaging import clock
    from messaging.models import Delivery

    beat = Celery("bench-beat", broker=args.broker, set_as_current=False)
    command = [
        sys.executable, "-m", "celery", "-A", "pimsy_messaging", "worker", "--pool", "threads",
        "-c", str(args.concurrency), "-l", "WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat",
        "-n", "bench@%h",
    ]  # fmt: skip
    with process(command, env=env, log=logs / "worker.log") as worker:
        deadline = time.monotonic() + 60
        while not beat.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not start; see " + str(logs / "worker.log"))
        rss_start = rss_mb(worker.pid)
        Delivery.objects.update(next_attempt_at=clock.now())
        stop = threading.Event()

        def play_beat() -> None:  # a kick now, then one sweep per DISPATCH_SWEEP_SECONDS
            beat.send_task("messaging.sweep")
            while not stop.wait(float(env["DISPATCH_SWEEP_SECONDS"])):
                beat.send_task("messaging.sweep")

        started = time.perf_counter()
        threading.Thread(target=play_beat, daemon=True).start()
        rss_warm, peak = float("nan"), rss_start
        while (done := sent_count()) < args.messages:
            if worker.poll() is not None:
                raise RuntimeError("the worker died; see " + str(logs / "worker.log"))
            peak = max(peak, rss_mb(worker.pid))
            if rss_warm != rss_warm and done >= args.messages // 10:  # first sample after 10 %
                rss_warm = rss_mb(worker.pid)
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        stop.set()
        rss_end = rss_mb(worker.pid)
    return {
        "rate": args.messages / elapsed,
        "seconds": elapsed,
        "rss_start": rss_start,
        "rss_warm": rss_warm,
        "rss_end": rss_end,
        "rss_peak": max(peak, rss_end),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--sweep-seconds", default=os.environ.get("DISPATCH_SWEEP_SECONDS", "5"))
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pimsy_bench")
    if not database.startswith("postgres"):
        print("bench_dispatch needs PostgreSQL (DATABASE_URL=postgres://…)", file=sys.stderr)
        return 2
    ensure_database(database)
    logs = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    clock_file = str(logs / "clock")
    twilio_port, sink_port = free_port(), free_port()
    env = {
        **base_env(),
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": args.broker,
        "RATE_LIMIT_REDIS_URL": args.broker,
        "TWILIO_API_BASE": f"http://127.0.0.1:{twilio_port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{sink_port}",
        "PIMSY_CLOCK_FILE": clock_file,
        "RATE_SMS_PER_SECOND": "0",
        "DISPATCH_SWEEP_SECONDS": str(args.sweep_seconds),
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings")
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    from messaging.clock import write_clock_file

    write_clock_file(clock_file, TUESDAY_MORNING, running=True)
    call_command("migrate", verbosity=0)
    redis.Redis.from_url(args.broker).flushdb()
    print(f"preparing {args.messages} deliveries …", flush=True)
    prepare(args.messages)
    sim = [
        sys.executable, "-m", "messaging.simulators", "--twilio-port", str(twilio_port), "--fax-port", str(free_port()),
        "--smtp-port", str(free_port()), "--smtp-control-port", str(free_port()), "--latency-ms", str(args.latency_ms),
        "--callback-delay-ms", "10", "--log-level", "WARNING",
    ]  # fmt: skip
    with (
        process(sim, env=base_env(), log=logs / "sim.log"),
        process([sys.executable, "-c", SINK_CODE, str(sink_port)]),
    ):
        wait_port(twilio_port)
        wait_port(sink_port)
        api, sink = env["TWILIO_API_BASE"], env["PUBLIC_BASE_URL"]
        print(f"bare loop ({args.concurrency} threads) …", flush=True)
        bare_before = run_bare(api, sink, args.messages, args.concurrency)
        print(f"system (celery worker --pool threads -c {args.concurrency}) …", flush=True)
        system = run_system(args, env, logs)
        print("bare loop again …", flush=True)
        bare_after = run_bare(api, sink, args.messages, args.concurrency)
    bare = (bare_before + bare_after) / 2
    growth = system["rss_end"] - system["rss_warm"]
    print()
    setup = f"{args.messages} SMS, simulator latency {args.latency_ms} ms, concurrency {args.concurrency}"
    print(f"messages            {setup}")
    print(f"bare loop           {bare_before:8.1f} msg/s before, {bare_after:8.1f} msg/s after (mean {bare:.1f})")
    print(f"system              {system['rate']:8.1f} msg/s ({system['seconds']:.1f} s for all to be accepted)")
    print(f"ratio               {system['rate'] / bare:8.2f}  (goal >= 0.90)")
    print(
        f"worker RSS          start {system['rss_start']:.1f} MB, after warm-up {system['rss_warm']:.1f} MB, "
        f"end {system['rss_end']:.1f} MB, peak {system['rss_peak']:.1f} MB"
    )
    total = system["rss_end"] - system["rss_start"]
    print(f"worker RSS growth   {growth:+.1f} MB after warm-up, {total:+.1f} MB from start (goal <= 20 MB)")
    print(f"logs                {logs}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        api_base, sink, messages, concurrency = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps({"rate": bare_loop(api_base, sink, messages, concurrency)}))
        sys.exit(0)
    sys.exit(main())
