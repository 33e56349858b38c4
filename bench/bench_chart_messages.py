"""Benchmark: the chart's Messages tab over 1,000,000 deliveries (issue 14 §3; target ≤ 100 ms p95).

Run by hand (PostgreSQL, a database of its own):

    createdb -h 127.0.0.1 -U postgres pimsy_bench_chart
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench_chart .venv/bin/python bench/bench_chart_messages.py

20,000 clients; 1,000,000 deliveries spread over a year, interleaved between clients (~50 each), one
client with 10,000 of them ("heavy"); stored content for every sent one; 3 consent / contact changes
per client (300 for the heavy one), a reply from one client in ten (500 from the heavy one) and a
Do-Not-Send entry for the heavy client's cell phone. Rows are generated once and kept (``--rebuild``).

The index migration 0010 made for the tab (``delivery_client_hist_idx``: ``client, -created_at, -id``)
is there, as in production; ``--no-client-index`` drops it, so both plans can be compared.

Prints p95 of the selector alone (``sql``: its five queries, rows to objects) and p50 / p95 of the
whole request (session, auth, permissions, access-log INSERT, template) for a typical client's first
page, the heavy client's first page and a page 5,000 items deep, with the query count and the plan of
the deliveries query; and the request floor (a redirect behind login), the fixed cost of any screen.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402  (sets Django up on the benchmark database)
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bounces.models import DnsChannel, DnsReason, DoNotSendEntry  # noqa: E402
from clients.models import Client, ProfileChange  # noqa: E402
from messaging.chart_messages import Cursor, chart_messages, messages_of  # noqa: E402
from messaging.models import Broadcast, Delivery, InboundMessage, MessageContent, MessageType  # noqa: E402

N = 1_000_000
CLIENTS = 20_000
PER_BROADCAST = 1_000
RUNS = int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--runs=")), "200"))
INDEX = "delivery_client_hist_idx"


def _deliveries_sql(first_client: int, heavy: int, first_broadcast: int, first_content: int, type_id: int) -> tuple:
    status = "CASE WHEN b < 70 THEN 'delivered' WHEN b < 80 THEN 'sent' WHEN b < 88 THEN 'failed' ELSE 'queued' END"
    client = f"CASE WHEN g %% 100 = 0 THEN {heavy} ELSE {first_client} + g %% {CLIENTS - 1} END"
    varied = {
        "channel": "'sms'",
        "recipient_type": "'client'",
        "client_id": client,
        "recipient_name": "'Last, First'",
        "address": "'+1617' || lpad((g %% 10000000)::text, 7, '0')",
        "status": status,
        "token": "'chart-' || g",
        "attempt_count": "CASE WHEN b >= 88 THEN 0 ELSE 1 END",
        "bounce_category": "CASE WHEN b >= 80 AND b < 88 THEN 'Bad-Mailbox' ELSE '' END",
        "hard_bounce": "CASE WHEN b >= 80 AND b < 88 THEN true ELSE NULL END",
        "sent_at": "CASE WHEN b < 88 THEN created ELSE NULL END",
        "created_at": "created",
        "updated_at": "created",
        "broadcast_id": f"{first_broadcast} + (g - 1) / {PER_BROADCAST}",
        "message_type_id": str(type_id),
        "content_id": f"CASE WHEN b < 88 THEN {first_content} + (g - 1) / {PER_BROADCAST} ELSE NULL END",
    }
    source = (
        f"SELECT g, (g::bigint * 7919) %% 100 AS b, now() - ({N} - g) * interval '30 seconds' AS created "
        f"FROM generate_series(1, {N}) g"
    )
    return benchlib.delivery_insert(varied, source)


def build(rebuild: bool) -> Client:
    call_command("migrate", verbosity=0)
    heavy = Client.objects.filter(last_name="Heavy").first()
    if not rebuild and heavy is not None and Delivery.objects.filter(token="chart-1").exists():
        print(f"reusing {Delivery.objects.count():,} generated deliveries (--rebuild to make them again)")
        return heavy
    benchlib.reset()
    start = time.perf_counter()
    clients = Client.objects.bulk_create(
        [Client(first_name="First", last_name=f"Last{i:05d}", cell_phone=f"+1617{i:07d}") for i in range(CLIENTS)],
        batch_size=5000,
    )
    heavy = Client.objects.create(first_name="Hana", last_name="Heavy", cell_phone="+16179999999")
    message_type = MessageType.objects.get(code="ad-hoc-clients")
    now = timezone.now()
    broadcasts = Broadcast.objects.bulk_create(
        [
            Broadcast(message_type=message_type, description=f"Bench {i}", broadcast_at=now, channels=["sms"])
            for i in range(N // PER_BROADCAST)
        ]
    )
    contents = MessageContent.objects.bulk_create(
        [
            MessageContent(digest=f"chart-{i}", channel="sms", text=f"Clinic news number {i}. " * 4, segments=1)
            for i in range(N // PER_BROADCAST)
        ]
    )
    sql, params = _deliveries_sql(clients[0].pk, heavy.pk, broadcasts[0].pk, contents[0].pk, message_type.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    changes = [
        ProfileChange(client=c, field="consent_given", old_value="No", new_value="Yes", changed_at=now)
        for c in clients
        for _ in range(3)
    ]
    changes += [
        ProfileChange(client=heavy, field="cell_phone", old_value="a", new_value="b", changed_at=now)
        for _ in range(300)
    ]
    ProfileChange.objects.bulk_create(changes, batch_size=5000)
    replies = [
        InboundMessage(provider_message_id=f"SMc{c.pk}", from_number="+1", to_number="+1", body="C", client=c)
        for c in clients[::10]
    ]
    replies += [
        InboundMessage(provider_message_id=f"SMh{i}", from_number="+1", to_number="+1", body="C", client=heavy)
        for i in range(500)
    ]
    InboundMessage.objects.bulk_create(replies, batch_size=5000)
    DoNotSendEntry.objects.create(channel=DnsChannel.SMS, address=str(heavy.cell_phone), reason=DnsReason.SMS_STOP)
    with connection.cursor() as cursor:
        for table in ("messaging_delivery", "clients_client", "clients_profilechange", "messaging_inboundmessage"):
            cursor.execute(f"ANALYZE {table}")  # noqa: S608  (names above)
    print(f"generated {N:,} deliveries for {CLIENTS:,} clients in {time.perf_counter() - start:.1f} s")
    return heavy


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def measure(fn) -> tuple[float, float]:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("the Messages tab benchmark runs on PostgreSQL")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    heavy = build("--rebuild" in sys.argv)
    with connection.cursor() as cursor:  # the index migration 0010 made, or (to compare) none
        if "--no-client-index" in sys.argv:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        else:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON messaging_delivery (client_id, created_at DESC, id DESC)"
            )
            cursor.execute("ANALYZE messaging_delivery")
    print(f"index {INDEX}: {'no (--no-client-index)' if '--no-client-index' in sys.argv else 'yes, as migration 0010'}")
    typical = Client.objects.exclude(pk=heavy.pk).order_by("pk")[CLIENTS // 2]
    user, _ = get_user_model().objects.get_or_create(username="bench-chart-viewer")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_client", "view_history"]))
    http = HttpClient(HTTP_HOST="127.0.0.1")
    http.force_login(user)
    deep = chart_messages(heavy, size=5000).items[-1].key
    pages = [
        (f"typical client ({Delivery.objects.filter(client=typical).count()} messages)", typical, None),
        (f"heavy client ({Delivery.objects.filter(client=heavy).count():,} messages)", heavy, None),
        ("heavy client, 5,000 items deep", heavy, deep),
    ]
    with connection.cursor() as cursor:
        sql, params = messages_of(heavy.pk).order_by("-created_at", "-id")[:51].query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        print("plan of the deliveries query (heavy client):")
        for (line,) in cursor.fetchall():
            print("   ", line)
    floor_50, floor_95 = measure(lambda: http.get(reverse("messaging:new")))
    print(f"request floor (session, auth, permission; a redirect): p50 {floor_50:.1f} ms, p95 {floor_95:.1f} ms")
    print(f"{'page':<40} {'sql p95':>8} {'view p50':>9} {'view p95':>9} {'p95-floor':>10} {'queries':>8} {'items':>6}")
    for label, client, after in pages:
        url = reverse("messaging:chart-messages", args=[client.pk])
        params = {"after": after.encode()} if isinstance(after, Cursor) else {}

        def request(url: str = url, params: dict = params) -> None:
            response = http.get(url, params)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code}")

        def select(client: Client = client, after: Cursor | None = after) -> None:
            chart_messages(client, after=after)

        count = [0]

        def counting(execute, sql, params, many, context, count: list[int] = count):
            count[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            request()
        items = len(chart_messages(client, after=after).items)
        _, sql_95 = measure(select)
        p50, p95 = measure(request)
        figures = f"{sql_95:>6.1f}ms {p50:>7.1f}ms {p95:>7.1f}ms {p95 - floor_95:>8.1f}ms"
        print(f"{label:<40} {figures} {count[0]:>8} {items:>6}")


if __name__ == "__main__":
    main()
