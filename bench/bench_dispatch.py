"""Dispatcher throughput and worker memory: 20,000 SMS against the Twilio simulator (20 ms latency), or
20,000 e-mails against the local SMTP server (``--channel email``; the bare loop is then ``smtplib``
reusing one connection per thread or process, as the e-mail transport reuses one per batch).

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
    options: --messages 20000 --concurrency 8 --latency-ms 20 --broker redis://127.0.0.1:6379/4 --channel email
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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCOUNT_SID = "AC00000000000000000000000000000000"
AUTH_TOKEN = "demo-auth-token"
FROM_NUMBER = "+15555550100"
BODY = "Riverbend Behavioral Health: Office closed Friday"
FROM_EMAIL = "reminders@example.org"
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


def address(n: int, channel: str) -> str:
    return f"bench{n}@example.org" if channel == "email" else number(n)


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


def worker_processes(pid: int) -> list[int]:
    """The worker and its pool's child processes (prefork), if any."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(child) for child in children.read_text().split())] if children.exists() else [pid]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb(pids: list[int]) -> float:
    """Proportional set size of these processes together (shared pages counted once), in MB."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


def service_cpu_seconds(names: tuple[str, ...] = ("postgres", "redis-server")) -> float:
    """CPU time used so far by the machine's PostgreSQL and Redis processes, with the children they
    have reaped (PostgreSQL's connection backends that exited)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if text[text.index("(") + 1 : text.rindex(")")] in names:
            fields = text.rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Phase:
    busy: float = 0.0  # % of all cores
    simulator_cpu: float = 0.0  # s per message
    services_cpu: float = 0.0  # PostgreSQL and Redis, s per message

    @classmethod
    @contextmanager
    def measure(cls, phases: dict[str, Phase], name: str, simulator_pid: int, messages: int) -> Iterator[None]:
        busy, total = machine_ticks()
        sim, services = cpu_seconds([simulator_pid]), service_cpu_seconds()
        yield
        busy_after, total_after = machine_ticks()
        phases[name] = cls(
            busy=100 * (busy_after - busy) / max(1, total_after - total),
            simulator_cpu=(cpu_seconds([simulator_pid]) - sim) / messages,
            services_cpu=(service_cpu_seconds() - services) / messages,
        )


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


def bare_loop(api_base: str, sink: str, messages: int, concurrency: int, pool: str) -> tuple[float, float]:
    """Send ``messages`` SMS from ``concurrency`` threads, or processes (``pool == "prefork"``, like a
    prefork worker: one client and one connection per process); returns (msg/s, CPU s per message)."""
    if pool == "prefork":
        return _bare_processes(api_base, sink, messages, concurrency)
    send = _bare_sender(api_base, sink)
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as executor:
        sids = list(executor.map(send, range(messages)))
    elapsed = time.perf_counter() - started
    assert len(set(sids)) == messages
    return messages / elapsed, (time.process_time() - cpu) / messages


def _bare_sender(api_base: str, sink: str) -> Callable[[int], str]:
    if api_base.startswith("smtp://"):
        return _bare_mailer(api_base)
    from messaging.channels.twilio.client import get_twilio_client

    client = get_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=api_base)
    callback = f"{sink}/webhooks/twilio/sms/bare-loop-token/status"

    def send(n: int) -> str:
        return client.messages.create(to=number(n), from_=FROM_NUMBER, body=BODY, status_callback=callback).sid

    return send


def _bare_mailer(server: str) -> Callable[[int], str]:
    """smtplib with one connection per thread, kept open: the floor for the e-mail transport.

    By default (``--bare-email same``) each e-mail is the one the product sends for that recipient,
    built with the standard library: the product's rendered subject, text and HTML (read from
    ``BENCH_EMAIL_JSON``, written by the parent from the first delivery) and the same headers (Date,
    Message-ID, List-Unsubscribe, List-Unsubscribe-Post, X-PIMSY-Delivery). The SMTP server then does
    the same work for both, and the ratio measures the product's own cost. ``--bare-email simple``
    sends the earlier, smaller message (a one-line text and HTML part, three headers).
    ``--bare-email same-cached`` builds the same message with the product's MIME policy
    (:mod:`messaging.channels.email.mime`: each header class made once), the strictest floor."""
    import email.policy
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    host, port = server.removeprefix("smtp://").split(":")
    local = threading.local()
    same = json.loads(Path(os.environ["BENCH_EMAIL_JSON"]).read_text()) if os.environ.get("BENCH_EMAIL_JSON") else None
    policy = email.policy.default
    if os.environ.get("BENCH_EMAIL_CACHED"):
        from messaging.channels.email.mime import cached_policy

        policy = cached_policy(policy)

    def send(n: int) -> str:
        if getattr(local, "smtp", None) is None:
            local.smtp = smtplib.SMTP(host, int(port), timeout=20)
        message = EmailMessage(policy=policy)
        if same is None:
            message["Subject"], message["From"], message["To"] = "Office closed Friday", FROM_EMAIL, address(n, "email")
            message.set_content(BODY)
            message.add_alternative(f"<p>{BODY}</p>", subtype="html")
        else:
            token = f"{n:032x}"  # a delivery token's length
            message["Subject"], message["From"], message["To"] = same["subject"], same["from"], address(n, "email")
            message["Date"] = formatdate(localtime=True)
            message["Message-ID"] = make_msgid(idstring=f"d{n}", domain=same["domain"])
            message["List-Unsubscribe"] = f"<{same['unsubscribe']}{token}/>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            message["X-PIMSY-Delivery"] = token
            message.set_content(same["text"])
            if same["html"]:
                message.add_alternative(same["html"], subtype="html")
        local.smtp.send_message(message)
        return message["To"]

    return send


def product_email(delivery_id: int) -> dict[str, str]:
    """What the product sends to the first recipient: its rendered subject, text and HTML, its From
    and the start of its unsubscribe link (for the bare loop's same-message baseline)."""
    from messaging.channels.email.transport import from_address, message_domain, unsubscribe_url
    from messaging.languages import Variants
    from messaging.models import Delivery
    from messaging.rendering import delivery_context, recipient_wants, render_for

    delivery = Delivery.objects.select_related("client__messaging", "message_type", "broadcast").get(pk=delivery_id)
    template = Variants().template(delivery.message_type_id, delivery.channel, recipient_wants(delivery))
    rendered = render_for(template=template, context=delivery_context(delivery, language=template.language or ""))
    return {
        "subject": rendered.email_subject,
        "text": rendered.email_text,
        "html": rendered.email_html,
        "from": from_address(),
        "domain": message_domain(),
        "unsubscribe": unsubscribe_url(delivery.token).removesuffix(f"{delivery.token}/"),
    }


def _bare_processes(api_base: str, sink: str, messages: int, concurrency: int) -> tuple[float, float]:
    import multiprocessing
    import resource

    import messaging.channels.twilio.client  # noqa: F401  (imported once, before the fork)

    context = multiprocessing.get_context("fork")
    go, ready = context.Event(), context.Semaphore(0)
    sids = context.Queue()

    def child(first: int) -> None:
        send = _bare_sender(api_base, sink)
        ready.release()
        go.wait()
        sids.put([send(n) for n in range(first, messages, concurrency)])

    children = [context.Process(target=child, args=(i,)) for i in range(concurrency)]
    for proc in children:
        proc.start()
    for _ in children:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    got = [sid for _ in children for sid in sids.get()]
    elapsed = time.perf_counter() - started
    for proc in children:
        proc.join()
    assert len(set(got)) == messages
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return messages / elapsed, (usage.ru_utime + usage.ru_stime) / messages


def niced(command: list[str]) -> list[str]:
    """The load's processes (the bare loop's and the worker's, alike) below the simulators and the
    database with ``--client-nice``: the SMTP server stands in for a remote MTA with its own CPU."""
    nice = int(os.environ.get("BENCH_CLIENT_NICE", "0"))
    return ["nice", "-n", str(nice), *command] if nice else command


def run_bare(api_base: str, sink: str, messages: int, concurrency: int, pool: str) -> tuple[float, float]:
    command = niced([sys.executable, __file__, "--bare", api_base, sink, str(messages), str(concurrency), pool])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=base_env())
    if done.returncode:
        raise RuntimeError(f"the bare loop failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["rate"]), float(figures["cpu"])


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


def prepare(messages: int, channel: str = "sms") -> list[int]:
    """Empty bench tables, then ``messages`` consenting clients with one queued message each (not yet due)."""
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
        message_type=kind, description="Office closed Friday", broadcast_at=later, channels=[channel]
    )
    ids: list[int] = []
    for start in range(0, messages, 2000):
        span = range(start, min(messages, start + 2000))
        clients = Client.objects.bulk_create(
            [
                Client(first_name="Bench", last_name="Client", cell_phone=number(n), email=address(n, "email"))
                for n in span
            ]
        )
        numbers = [address(n, channel) for n in span]
        MessagingProfile.objects.bulk_create([MessagingProfile(client=c, consent_given=True) for c in clients])
        rows = Delivery.objects.bulk_create(
            [
                Delivery(
                    broadcast=broadcast, message_type=kind, channel=channel, client=c, address=n, next_attempt_at=later
                )
                for c, n in zip(clients, numbers, strict=True)
            ]
        )
        ids += [r.pk for r in rows]
    with connection.cursor() as cursor:  # statistics as autovacuum would have them for tables this size
        cursor.execute("ANALYZE clients_client, clients_messagingprofile, messaging_delivery")
    return ids


def sent_count() -> int:
    from messaging.models import Delivery

    return Delivery.objects.filter(status__in=["sent", "delivered"]).count()


def run_system(args: argparse.Namespace, env: dict[str, str], logs: Path) -> dict[str, float]:
    from celery import Celery

    from core import clock
    from messaging.models import Delivery

    beat = Celery("bench-beat", broker=args.broker, set_as_current=False)
    command = [
        sys.executable, "-m", "celery", "-A", "pimsy_messaging", "worker", "--pool", args.pool,
        "-c", str(args.concurrency), "-l", "WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat",
        "-n", "bench@%h",
    ]  # fmt: skip
    with process(niced(command), env=env, log=logs / "worker.log") as worker:
        deadline = time.monotonic() + 60
        while not beat.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not start; see " + str(logs / "worker.log"))
        pids = worker_processes(worker.pid)
        mem_start, cpu_start = memory_mb(pids), cpu_seconds(pids)
        Delivery.objects.update(next_attempt_at=clock.now())
        stop = threading.Event()

        def play_beat() -> None:  # a kick now, then one sweep per DISPATCH_SWEEP_SECONDS
            beat.send_task("messaging.sweep")
            while not stop.wait(float(env["DISPATCH_SWEEP_SECONDS"])):
                beat.send_task("messaging.sweep")

        started = time.perf_counter()
        threading.Thread(target=play_beat, daemon=True).start()
        mem_warm, peak = float("nan"), mem_start
        progress = (logs / "progress.txt").open("w")
        polls = 0
        while (done := sent_count()) < args.messages:
            progress.write(f"{time.perf_counter() - started:.2f} {done}\n")
            if worker.poll() is not None:
                raise RuntimeError("the worker died; see " + str(logs / "worker.log"))
            # Reading the memory of 9 processes costs ~10 ms of CPU (the kernel walks their page
            # tables): every 2 s, not every poll, so the measuring does not slow what it measures.
            if polls % 10 == 0:
                peak = max(peak, memory_mb(pids))
            if mem_warm != mem_warm and done >= args.messages // 10:  # first sample after 10 %
                mem_warm = memory_mb(pids)
            polls += 1
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        progress.close()
        stop.set()
        if worker_processes(worker.pid) != pids:
            raise RuntimeError("the worker's pool replaced a process during the run; its figures would be wrong")
        mem_end, cpu_end = memory_mb(pids), cpu_seconds(pids)
    return {
        "cpu": (cpu_end - cpu_start) / args.messages,
        "rate": args.messages / elapsed,
        "seconds": elapsed,
        "processes": len(pids),
        "mem_start": mem_start,
        "mem_warm": mem_warm,
        "mem_end": mem_end,
        "mem_peak": max(peak, mem_end),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--pool", choices=["prefork", "threads"], default="prefork",
        help="the worker's pool (prefork: Celery's default and docker-compose's); the bare loop uses the same model",
    )  # fmt: skip
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--sweep-seconds", default=os.environ.get("DISPATCH_SWEEP_SECONDS", "5"))
    parser.add_argument("--channel", choices=["sms", "email"], default="sms")
    parser.add_argument(
        "--client-nice", type=int, default=0,
        help="run the bare loop's and the worker's processes at this nice level (the simulators, PostgreSQL and "
        "Redis stay at 0): the local SMTP server then gets a core when it needs one, as a remote one would",
    )  # fmt: skip
    parser.add_argument(
        "--bare-email",
        choices=["same", "same-cached", "simple"],
        default="same",
        help="the bare loop's e-mail: the product's message built with the standard library (same-cached: with "
        "the product's cached header classes, messaging.channels.email.mime), or a small one",
    )
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pimsy_bench")
    if not database.startswith("postgres"):
        print("bench_dispatch needs PostgreSQL (DATABASE_URL=postgres://…)", file=sys.stderr)
        return 2
    ensure_database(database)
    logs = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    clock_file = str(logs / "clock")
    twilio_port, sink_port, smtp_port = free_port(), free_port(), free_port()
    env = {
        **base_env(),
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": args.broker,
        "RATE_LIMIT_REDIS_URL": args.broker,
        "TWILIO_API_BASE": f"http://127.0.0.1:{twilio_port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{sink_port}",
        "PIMSY_CLOCK_FILE": clock_file,
        "RATE_SMS_PER_SECOND": "0",
        "RATE_EMAIL_PER_SECOND": "0",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "DISPATCH_SWEEP_SECONDS": str(args.sweep_seconds),
    }
    os.environ.update(env)
    os.environ["BENCH_CLIENT_NICE"] = str(args.client_nice)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings")
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    from core.clock import write_clock_file

    write_clock_file(clock_file, TUESDAY_MORNING, running=True)
    call_command("migrate", verbosity=0)
    redis.Redis.from_url(args.broker).flushdb()
    print(f"preparing {args.messages} deliveries …", flush=True)
    ids = prepare(args.messages, args.channel)
    if args.channel == "email" and args.bare_email != "simple":
        same = logs / "bare-email.json"
        same.write_text(json.dumps(product_email(ids[0])))
        os.environ["BENCH_EMAIL_JSON"] = str(same)
        if args.bare_email == "same-cached":
            os.environ["BENCH_EMAIL_CACHED"] = "1"
    sim = [
        sys.executable, "-m", "messaging.simulators", "--twilio-port", str(twilio_port), "--fax-port", str(free_port()),
        "--smtp-port", str(smtp_port), "--smtp-control-port", str(free_port()), "--latency-ms", str(args.latency_ms),
        "--callback-delay-ms", "10", "--log-level", "WARNING",
    ]  # fmt: skip
    with (
        process(sim, env=base_env(), log=logs / "sim.log") as simulator,
        process([sys.executable, "-c", SINK_CODE, str(sink_port)]),
    ):
        wait_port(twilio_port)
        wait_port(sink_port)
        wait_port(smtp_port)
        api, sink = env["TWILIO_API_BASE"], env["PUBLIC_BASE_URL"]
        if args.channel == "email":
            api = f"smtp://127.0.0.1:{smtp_port}"
        phases: dict[str, Phase] = {}
        print(f"bare loop ({args.concurrency} {'processes' if args.pool == 'prefork' else 'threads'}) …", flush=True)
        with Phase.measure(phases, "bare loop", simulator.pid, args.messages):
            bare_before, bare_cpu = run_bare(api, sink, args.messages, args.concurrency, args.pool)
        print(f"system (celery worker --pool {args.pool} -c {args.concurrency}) …", flush=True)
        with Phase.measure(phases, "system", simulator.pid, args.messages):
            system = run_system(args, env, logs)
        print("bare loop again …", flush=True)
        with Phase.measure(phases, "bare loop again", simulator.pid, args.messages):
            bare_after, _ = run_bare(api, sink, args.messages, args.concurrency, args.pool)
    bare = (bare_before + bare_after) / 2
    growth = system["mem_end"] - system["mem_warm"]
    print()
    bare_email = {
        "same": "same message",
        "same-cached": "same message with cached header classes",
        "simple": "small message",
    }[args.bare_email]
    what = (
        f"e-mails (local SMTP server; the bare loop sends the {bare_email})"
        if args.channel == "email"
        else f"SMS, simulator latency {args.latency_ms} ms"
    )
    setup = f"{args.messages} {what}, concurrency {args.concurrency} ({args.pool})"
    print(f"messages            {setup}")
    print(f"bare loop           {bare_before:8.1f} msg/s before, {bare_after:8.1f} msg/s after (mean {bare:.1f})")
    print(f"system              {system['rate']:8.1f} msg/s ({system['seconds']:.1f} s for all to be accepted)")
    print(
        f"CPU per message     bare loop {bare_cpu * 1000:.2f} ms, worker {system['cpu'] * 1000:.2f} ms "
        "(the simulator and PostgreSQL share the same cores)"
    )
    for name, phase in phases.items():
        print(
            f"machine ({name + ')':16s} {phase.busy:5.1f} % of {os.cpu_count()} cores busy; "
            f"CPU per message: simulator {phase.simulator_cpu * 1000:.2f} ms, "
            f"PostgreSQL + Redis {phase.services_cpu * 1000:.2f} ms"
        )
    print(f"ratio               {system['rate'] / bare:8.2f}  (goal >= 0.90)")
    print(
        f"worker memory       {system['processes']} process(es), PSS together: start {system['mem_start']:.1f} MB, "
        f"after warm-up {system['mem_warm']:.1f} MB, end {system['mem_end']:.1f} MB, peak {system['mem_peak']:.1f} MB"
    )
    total = system["mem_end"] - system["mem_start"]
    print(f"worker growth       {growth:+.1f} MB after warm-up, {total:+.1f} MB from start (goal <= 20 MB)")
    print(f"logs                {logs}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        api_base, sink, messages, concurrency = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        rate, cpu = bare_loop(api_base, sink, messages, concurrency, sys.argv[6])
        print(json.dumps({"rate": rate, "cpu": cpu}))
        sys.exit(0)
    sys.exit(main())
