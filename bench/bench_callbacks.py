"""Callback ingest: signed Twilio SMS status callbacks for 20,000 deliveries through gunicorn.

The production web shape (``docker-compose.yml``'s ``web``: gunicorn, 3 sync workers, access log,
PostgreSQL, production settings behind a TLS proxy) receives Twilio's status callbacks for 20,000
SMS deliveries created beforehand (as the dispatcher leaves them: ``sent``, provider id known, one
attempt), as fast as a local load generator can send them:

* each delivery gets ``queued``, ``sent`` and ``delivered`` (60,000 distinct callbacks), in the
  order Twilio would send them, deliveries interleaved;
* 5 % of the deliveries get theirs out of order (``delivered`` before ``sent``, or ``queued`` last);
* 10 % of the callbacks come twice (Twilio retries), at a random later moment.

Every request carries a real ``X-Twilio-Signature`` (``twilio.request_validator.RequestValidator``
over the public URL and the form) and goes to the product's own callback URL and view
(``/webhooks/twilio/sms/<token>/status``). The baseline in the same run is a bare Django view on
the same server (``bench/callback_urls.py``) that checks the signature and answers 200; it runs
before and after the product (the reference is their mean) over the first ``--bare-requests`` of
the same callbacks. The CPU that the server, its own database sessions and the load generator use
per callback is printed too, and the rate it implies on otherwise idle cores: other work on the
machine slows the runs far more than it changes the CPU a callback needs (it does inflate it
somewhat). Then the final states are checked: every delivery ``delivered`` with its attempt
closed, every distinct callback stored once (a duplicate is not stored again), only each
delivery's ``delivered`` applied.

    createdb -h 127.0.0.1 -U postgres pimsy_bench_cb
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench_cb .venv/bin/python bench/bench_callbacks.py
    options: --deliveries 20000 --concurrency 8 --workers 3 --bare-requests 20000 --seed 16
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_dispatch import (  # noqa: E402  (bench/ is the script's own directory)
    cpu_seconds,
    ensure_database,
    free_port,
    machine_ticks,
    process,
    wait_port,
    worker_processes,
)

HOST = "pimsy.example.org"
PUBLIC_BASE_URL = f"https://{HOST}"
ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = secrets.token_hex(16)
FROM_NUMBER = "+15555550100"
PRODUCT_PATH = "/webhooks/twilio/sms/{token}/status"
BARE_PATH = "/bench/bare/{token}/status"
DUPLICATES = 0.10
OUT_OF_ORDER = 0.05


def server_env(database: str, broker: str) -> dict[str, str]:
    """Production settings as ``.env.example`` has them (behind a TLS-terminating proxy)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PIMSY_TESTING", "PIMSY_DEMO", "DEBUG")}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench.callback_settings",
        "PIMSY_TESTING": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": broker,
        "RATE_LIMIT_REDIS_URL": broker,
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": PUBLIC_BASE_URL,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "BEHIND_PROXY": "1",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "TRUSTED_PROXY_HOPS": "1",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "ANYMAIL_WEBHOOK_SECRET": "pimsy:" + secrets.token_hex(8),
        # Production reconnects each worker once a minute (60); the bench keeps the sessions for
        # the whole run so that their CPU can be counted (three reconnections a minute cost nothing).
        "DB_CONN_MAX_AGE": "3600",
        "PYTHONPATH": str(ROOT),
    }


# --- the deliveries and the callbacks ----------------------------------------------------------------


def prepare(count: int) -> list[tuple[int, str, str, str]]:
    """Empty the bench tables, then ``count`` SMS deliveries as the dispatcher leaves them once
    Twilio accepted them. Returns (id, token, provider sid, number) of each."""
    from django.db import connection

    from clients.models import Client, MessagingProfile
    from core import clock
    from messaging.models import Attempt, Broadcast, Delivery, MessageType, Status

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_attempt, messaging_providerevent, messaging_delivery, messaging_broadcast, "
            "clients_messagingprofile, clients_messagingcontact, clients_client, bounces_softbounce, "
            "bounces_donotsendentry RESTART IDENTITY CASCADE"
        )
    kind = MessageType.objects.get(code="ad-hoc-clients")
    now = clock.now()
    broadcast = Broadcast.objects.create(
        message_type=kind, description="Office closed Friday", broadcast_at=now, channels=["sms"]
    )
    rows: list[tuple[int, str, str, str]] = []
    for start in range(0, count, 2000):
        numbers = [f"+1617{555 + n // 8000:03d}{2000 + n % 8000:04d}" for n in range(start, min(count, start + 2000))]
        clients = Client.objects.bulk_create(
            [Client(first_name="Bench", last_name="Client", cell_phone=n) for n in numbers]
        )
        MessagingProfile.objects.bulk_create([MessagingProfile(client=c, consent_given=True) for c in clients])
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    broadcast=broadcast,
                    message_type=kind,
                    channel="sms",
                    client=c,
                    address=n,
                    status=Status.SENT,
                    provider_message_id="SM" + uuid.uuid4().hex,
                    attempt_count=1,
                    sent_at=now,
                )
                for c, n in zip(clients, numbers, strict=True)
            ]
        )
        Attempt.objects.bulk_create(
            [
                Attempt(delivery=d, number=1, started_at=now, provider_message_id=d.provider_message_id, outcome="")
                for d in deliveries
            ]
        )
        rows += [(d.pk, d.token, d.provider_message_id, d.address) for d in deliveries]
    with connection.cursor() as cursor:  # statistics as autovacuum would have them for tables this size
        cursor.execute("ANALYZE clients_client, messaging_delivery, messaging_attempt, messaging_providerevent")
    return rows


@dataclass(frozen=True)
class Callback:
    token: str
    params: dict[str, str]
    duplicate: bool = False


def schedule(rows: list[tuple[int, str, str, str]], seed: int) -> tuple[list[Callback], set[str]]:
    """Every delivery's queued / sent / delivered in Twilio's timing (deliveries sent one after the
    other, ``sent`` ~30 later, ``delivered`` ~300 later), some out of order, some twice.
    Returns the callbacks in sending order and the tokens of the out-of-order deliveries."""
    rng = random.Random(seed)
    timed: list[tuple[float, Callback]] = []
    shuffled: set[str] = set()
    for i, (_pk, token, sid, number) in enumerate(rows):
        moments = [i, i + 20 + rng.random() * 20, i + 200 + rng.random() * 200]
        if rng.random() < OUT_OF_ORDER:
            shuffled.add(token)
            if rng.random() < 0.5:
                moments[1], moments[2] = moments[2], moments[1]  # delivered before sent
            else:
                moments[0] = moments[2] + 1 + rng.random() * 10  # queued last
        for status, moment in zip(("queued", "sent", "delivered"), moments, strict=True):
            timed.append((moment, Callback(token, _params(sid, number, status))))
    for moment, callback in rng.sample(timed, round(len(timed) * DUPLICATES)):
        timed.append((moment + 1 + rng.random() * 300, Callback(callback.token, callback.params, duplicate=True)))
    timed.sort(key=lambda item: item[0])
    return [callback for _, callback in timed], shuffled


def _params(sid: str, number: str, status: str) -> dict[str, str]:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": FROM_NUMBER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": number,
    }
    if status == "delivered":
        params["RawDlrDoneDate"] = dt.datetime.now(dt.UTC).strftime("%y%m%d%H%M")
    return params


def requests_for(callbacks: list[Callback], path: str) -> list[bytes]:
    """Each callback as the HTTP request Twilio (through the TLS proxy) would make, signed."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    out = []
    for callback in callbacks:
        target = path.format(token=callback.token)
        signature = validator.compute_signature(PUBLIC_BASE_URL + target, callback.params)
        body = urlencode(callback.params).encode()
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: TwilioProxy/1.1\r\n"
            "X-Forwarded-Proto: https\r\nX-Forwarded-For: 54.172.60.1\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            f"X-Twilio-Signature: {signature}\r\nI-Twilio-Idempotency-Token: {uuid.uuid4()}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


# --- the load generator ------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    generator_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    busy: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu(self) -> float:
        """CPU seconds per callback: server, its database sessions and the load generator."""
        return self.server_cpu + self.database_cpu + self.generator_cpu

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    def pct(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[round(q * 10) - 1] * 1000


async def _one(port: int, request: bytes) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        response = await reader.read()  # gunicorn's sync workers close the connection after each answer
        writer.close()
    except OSError as exc:
        return type(exc).__name__, time.perf_counter() - started
    status = response[9:12].decode() if response.startswith(b"HTTP/1.") else "bad response"
    return status, time.perf_counter() - started


async def _fire(port: int, requests: list[bytes], concurrency: int, run: Run) -> None:
    position = 0

    async def lane() -> None:
        nonlocal position
        while position < len(requests):
            request = requests[position]
            position += 1
            status, seconds = await _one(port, request)
            run.latencies.append(seconds)
            run.statuses[status] = run.statuses.get(status, 0) + 1

    await asyncio.gather(*(lane() for _ in range(concurrency)))


def fire(port: int, requests: list[bytes], concurrency: int, server_pids: list[int], backends: list[int]) -> Run:
    """Send the requests in order from ``concurrency`` connections at a time, as fast as answered."""
    run = Run()
    busy, total = machine_ticks()
    server, database, generator = cpu_seconds(server_pids), cpu_seconds(backends), time.process_time()
    started = time.perf_counter()
    asyncio.run(_fire(port, requests, concurrency, run))
    run.seconds = time.perf_counter() - started
    busy_after, total_after = machine_ticks()
    run.busy = 100 * (busy_after - busy) / max(1, total_after - total)
    run.generator_cpu = (time.process_time() - generator) / len(requests)
    run.server_cpu = (cpu_seconds(server_pids) - server) / len(requests)
    run.database_cpu = (cpu_seconds(backends) - database) / len(requests)
    return run


def database_backends(database: str) -> list[int]:
    """The PostgreSQL processes serving the web server's connections to the bench database (the
    workers keep theirs open: CONN_MAX_AGE); other work on the machine is not counted."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchall()
    return [pid for (pid,) in rows]


# --- the final states ----------------------------------------------------------------------------------


def check(rows: list[tuple[int, str, str, str]], callbacks: list[Callback]) -> list[str]:
    """What is wrong with the database after the product's run (empty: exactly right)."""
    from django.db.models import Count, Q

    from messaging.models import Attempt, Delivery, ProviderEvent, Status

    problems = []
    ids = [pk for pk, *_ in rows]
    sids = {pk: sid for pk, _token, sid, _number in rows}
    distinct = len({(c.token, c.params["MessageStatus"]) for c in callbacks})
    not_delivered = Delivery.objects.exclude(status=Status.DELIVERED).count()
    if not_delivered:
        problems.append(f"{not_delivered} deliveries are not delivered")
    wrong = Delivery.objects.filter(Q(delivered_at__isnull=True) | Q(finished_at__isnull=True)).count()
    if wrong:
        problems.append(f"{wrong} delivered deliveries lack delivered_at / finished_at")
    for pk, sid in Delivery.objects.filter(pk__in=ids).values_list("pk", "provider_message_id"):
        if sids[pk] != sid:
            problems.append(f"delivery {pk} changed its provider id")
            break
    attempts = Attempt.objects.exclude(outcome=Status.DELIVERED).count()
    if attempts:
        problems.append(f"{attempts} attempts not closed as delivered")
    events = ProviderEvent.objects.count()
    if events != distinct:
        problems.append(f"{events} provider events stored, {distinct} distinct callbacks sent")
    applied = ProviderEvent.objects.filter(applied=True)
    if applied.count() != len(rows) or applied.exclude(status=Status.DELIVERED).exists():
        problems.append(f"{applied.count()} events applied, expected {len(rows)} (each delivery's 'delivered' once)")
    per_delivery = ProviderEvent.objects.values("delivery_id").annotate(n=Count("id")).exclude(n=3).count()
    if per_delivery:
        problems.append(f"{per_delivery} deliveries do not have exactly 3 events")
    return problems


# --- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8, help="connections in flight at once")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (docker-compose: 3)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--bare-requests", type=int, default=20_000, help="the baseline's runs send the first N callbacks (0: all)"
    )
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/5"))
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pimsy_bench_cb")
    if not database.startswith("postgres"):
        print("bench_callbacks needs PostgreSQL (DATABASE_URL=postgres://…)", file=sys.stderr)
        return 2
    ensure_database(database)
    env = server_env(database, args.broker)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"preparing {args.deliveries:,} deliveries …", flush=True)
    rows = prepare(args.deliveries)
    callbacks, shuffled = schedule(rows, args.seed)
    duplicates = sum(c.duplicate for c in callbacks)
    print(
        f"{len(callbacks):,} callbacks: {len(callbacks) - duplicates:,} distinct, {duplicates:,} duplicates, "
        f"{len(shuffled):,} deliveries out of order; signing …",
        flush=True,
    )
    product, bare = requests_for(callbacks, PRODUCT_PATH), requests_for(callbacks, BARE_PATH)
    bare = bare[: args.bare_requests or None]
    logs = Path(tempfile.mkdtemp(prefix="bench-callbacks-"))
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "pimsy_messaging.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers), "--access-logfile", str(logs / "access.log"),
        "--error-logfile", str(logs / "error.log"), "--backlog", "2048",
    ]  # fmt: skip
    from django.db import connection

    connection.close()  # the bench holds no connection while the server runs
    with process(command, env=env, log=logs / "gunicorn.out") as server:
        wait_port(port)
        time.sleep(1)
        pids = worker_processes(server.pid)
        if len(pids) != args.workers + 1:
            raise RuntimeError(f"gunicorn has {len(pids) - 1} workers, not {args.workers}; see {logs}")
        # Warm up: every worker imports everything and connects (callbacks for unknown tokens: no change).
        unknown = [Callback(f"warm-up-{n}", c.params) for n, c in enumerate(callbacks[:60])]
        backends: list[int] = []
        for _ in range(10):
            fire(port, requests_for(unknown, PRODUCT_PATH) + requests_for(unknown, BARE_PATH), 8, pids, [])
            backends = database_backends(database)
            if len(backends) == args.workers:
                break
        else:
            raise RuntimeError(f"{len(backends)} database sessions for {args.workers} workers")
        runs: dict[str, Run] = {}
        for name, requests in (("bare", bare), ("product", product), ("bare again", bare)):
            print(f"{name}: {len(requests):,} requests, {args.concurrency} at a time …", flush=True)
            runs[name] = fire(port, requests, args.concurrency, pids, backends)
        if database_backends(database) != backends:
            raise RuntimeError("the workers' database sessions changed during the run; the CPU figures would be wrong")
        if worker_processes(server.pid) != pids:
            raise RuntimeError("gunicorn replaced a worker during the run (a crash or a timeout); see " + str(logs))
    problems = check(rows, callbacks)
    log_lines = (logs / "error.log").read_text().splitlines()
    server_errors = [line for line in log_lines if "Traceback" in line or "ERROR" in line]

    print()
    print(
        f"setup      {args.deliveries:,} deliveries, {len(product):,} signed callbacks (baseline {len(bare):,}), "
        f"gunicorn {args.workers} sync workers, {args.concurrency} connections, {os.cpu_count()} cores"
    )
    head = f"{'run':<11} {'callbacks/s':>11} {'p50':>8} {'p95':>8} {'p99':>8} {'errors':>7} {'busy':>6}"
    print(head + "  CPU per callback")
    for name, run in runs.items():
        print(
            f"{name:<11} {run.rate:>11.1f} {run.pct(50):>6.1f}ms {run.pct(95):>6.1f}ms {run.pct(99):>6.1f}ms "
            f"{run.errors:>7} {run.busy:>5.0f}%  gunicorn {run.server_cpu * 1000:.2f} ms, "
            f"PostgreSQL {run.database_cpu * 1000:.2f} ms, generator {run.generator_cpu * 1000:.2f} ms; "
            f"all {run.cpu * 1000:.2f} ms = {os.cpu_count() / run.cpu:.0f}/s on {os.cpu_count()} free cores"
        )
        if run.errors:
            print(f"           answers: {run.statuses}")
    floor = (runs["bare"].rate + runs["bare again"].rate) / 2
    result = runs["product"]
    print(f"ratio      product / bare = {result.rate / floor:.2f} (bare mean {floor:.1f} callbacks/s)")
    floor_cpu = (runs["bare"].cpu + runs["bare again"].cpu) / 2
    print(f"CPU ratio  product / bare = {result.cpu / floor_cpu:.2f} (all CPU per callback, measured in this run)")
    print(
        f"targets    >= 500 callbacks/s: {result.rate:.0f} {'met' if result.rate >= 500 else 'NOT met'}; "
        f"p95 <= 50 ms: {result.pct(95):.1f} ms {'met' if result.pct(95) <= 50 else 'NOT met'}; "
        f"0 errors: {result.errors} {'met' if result.errors == 0 and not server_errors else 'NOT met'}"
    )
    if server_errors:
        print(f"server     {len(server_errors)} error lines in {logs / 'error.log'}")
    print("final      " + ("exactly right" if not problems else "WRONG: " + "; ".join(problems)))
    print(f"logs       {logs}")
    return 1 if problems or result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
