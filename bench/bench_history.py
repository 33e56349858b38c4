"""Benchmark: the History tab over 1,000,000 deliveries (target: first, filtered and deep page ≤ 50 ms p95
server time, and ≤ 2× the page's bare SQL query measured in the same run), or 10,000,000 (issue 16).

Run by hand (PostgreSQL):

    createdb -h 127.0.0.1 -U postgres pimsy_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench .venv/bin/python bench/bench_history.py
    # a network of clinics (issue 16): ten million rows, in a database of their own
    createdb -h 127.0.0.1 -U postgres pimsy_bench_10m
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench_10m .venv/bin/python bench/bench_history.py \
        --rows 10000000

The rows are generated once with one INSERT … SELECT (kept between runs; ``--rebuild`` makes them
again). For every page it prints p50/p95 of:
- ``sql``: the page's query (the exact SQL the ORM sends) executed on a raw cursor, rows fetched;
- ``selector``: ``messaging.history.history_page`` (ORM rows) plus the cells of the shown columns;
- ``view``: the whole htmx request of that page through Django (middleware, session, auth, template),
  as a logged-in user with only the view-history permission (DEBUG off; the middleware, session engine
  and authentication backend of production);
the three measured in turn within each round (``RUNS`` rounds), so that load from other processes
on the machine falls on all three alike; the recipient search through the view; Django admin's
changelist of the same table (``/admin/messaging/delivery/``: the page a Django user would otherwise
get, as staff with the view-delivery permission), first page and filtered, side by side in the same
run; and the ``request floor``: the same stack answering a request that needs login and the History
permission and does no page work (the Messaging tab redirecting a history-only user to History), i.e.
the fixed cost of any screen.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402, F401  (sets Django up on the benchmark database)
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from messaging import history as hist  # noqa: E402
from messaging.models import Broadcast, Delivery, MessageType  # noqa: E402

N = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 1_000_000
PER_BROADCAST = 1_000
RUNS = 200
CHANNELS = ["sms"] * 10 + ["email"] * 6 + ["voice"] * 3 + ["fax"]


def _generated_sql(type_ids: list[int], first_broadcast: int) -> tuple[str, list[object]]:
    """INSERT … SELECT generate_series: every Delivery column, model defaults for the ones not varied."""
    channels = "ARRAY[" + ",".join(f"'{c}'" for c in CHANNELS) + "]"
    types = "ARRAY[" + ",".join(str(t) for t in type_ids) + "]::bigint[]"
    status = (
        "CASE WHEN b < 70 THEN 'delivered' WHEN b < 80 THEN 'sent' WHEN b < 83 THEN 'failed' "
        "WHEN b < 88 THEN 'failed' WHEN b < 93 THEN 'queued' WHEN b < 97 THEN 'suppressed' ELSE 'cancelled' END"
    )
    varied = {
        "channel": "ch",
        "recipient_type": "'client'",
        "recipient_name": "'Last' || lpad((g %% 50000)::text, 5, '0') || ', First' || (g %% 50000)",
        "address": "CASE WHEN ch = 'email' THEN 'client' || (g %% 50000) || '@example.org' "
        "ELSE '+1617' || lpad((g %% 10000000)::text, 7, '0') END",
        "address_source": "'chart'",
        "status": status,
        "token": "'bench-' || g",
        "attempt_count": "CASE WHEN b >= 88 THEN 0 WHEN b >= 83 THEN 3 ELSE 1 END",
        "bounce_category": "CASE WHEN b >= 80 AND b < 83 THEN 'Bad-Mailbox' WHEN b >= 83 AND b < 88 THEN "
        "'Quota-Issues' WHEN b >= 93 AND b < 97 THEN 'DNS' ELSE '' END",
        "hard_bounce": "CASE WHEN b >= 80 AND b < 83 THEN true WHEN b >= 83 AND b < 88 THEN false "
        "WHEN b >= 93 AND b < 97 THEN true ELSE NULL END",
        "sent_at": "CASE WHEN b < 88 THEN created + interval '1 minute' ELSE NULL END",
        "delivered_at": "CASE WHEN b < 70 THEN created + interval '2 minutes' ELSE NULL END",
        "created_at": "created",
        "updated_at": "created",
        "broadcast_id": f"{first_broadcast} + (g - 1) / {PER_BROADCAST}",
        "message_type_id": f"({types})[1 + ((g - 1) / {PER_BROADCAST}) %% {len(type_ids)}]",
    }
    source = (
        f"SELECT g, ({channels})[1 + g %% {len(CHANNELS)}] AS ch, (g::bigint * 7919) %% 100 AS b, "
        f"now() - ({N} - g) * interval '30 seconds' AS created FROM generate_series(1, {N}) g"
    )
    return benchlib.delivery_insert(varied, source)


def build(rebuild: bool) -> None:
    call_command("migrate", verbosity=0)
    if not rebuild and Delivery.objects.filter(token="bench-1").exists() and Delivery.objects.count() >= N:
        print(f"reusing {N:,} generated deliveries (--rebuild to make them again)")
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_providerevent, messaging_attempt, messaging_delivery, messaging_broadcast "
            "RESTART IDENTITY CASCADE"
        )
    User = get_user_model()
    senders = [User.objects.get_or_create(username=f"bench-staff-{i}")[0] for i in range(5)]
    types = list(MessageType.objects.order_by("id"))
    now = timezone.now()
    broadcasts = Broadcast.objects.bulk_create(
        [
            Broadcast(
                message_type=types[i % len(types)],
                description=f"Bench broadcast {i}",
                broadcast_at=now,
                channels=["sms"],
                created_by=senders[i % 5] if i % 4 else None,
                automated=i % 4 == 0,
                created_at=now,
            )
            for i in range(N // PER_BROADCAST)
        ]
    )
    sql, params = _generated_sql([t.pk for t in types], broadcasts[0].pk)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("ANALYZE messaging_delivery")
        cursor.execute("ANALYZE messaging_broadcast")
    print(f"generated {N:,} deliveries in {time.perf_counter() - start:.1f} s")


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def measure(fn) -> tuple[float, float]:
    return measure_together(fn)[0]


def measure_together(*fns) -> list[tuple[float, float]]:
    """p50/p95 of each function, called in turn in every round."""
    for _ in range(3):
        for fn in fns:
            fn()  # warm caches
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(RUNS):
        for fn, samples in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return [percentiles(samples) for samples in times]


def main() -> None:
    assert connection.vendor == "postgresql", "the History benchmark runs on PostgreSQL"
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    build("--rebuild" in sys.argv)
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    user.user_permissions.set(Permission.objects.filter(codename="view_history"))
    columns = hist.layout_columns(user)
    http = HttpClient(HTTP_HOST="127.0.0.1")
    http.force_login(user)

    deep_at = N * 9 // 10
    deep_row = Delivery.objects.order_by("-created_at", "-id").values("created_at", "id")[deep_at]
    deep = hist.Cursor(created_at=deep_row["created_at"], id=deep_row["id"])
    email_type = MessageType.objects.get(code="ad-hoc-clients")
    pages = [
        ("first page", hist.Filters(), None, {}),
        (
            "filtered: failed e-mail",
            hist.Filters(channel="email", status="failed"),
            None,
            {"channel": "email", "status": "failed"},
        ),
        (
            "filtered: type + soft",
            hist.Filters(message_type_id=email_type.pk, bounce="soft"),
            None,
            {"message_type": email_type.pk, "bounce": "soft"},
        ),
        (f"deep page (row {deep_at:,})", hist.Filters(), deep, {"after": deep.encode()}),
        ("deep + filtered", hist.Filters(status="failed"), deep, {"status": "failed", "after": deep.encode()}),
    ]

    def floor() -> None:  # middleware, session, login and permission checks: no page work
        response = http.get(reverse("messaging:new"), HTTP_HX_REQUEST="true")
        assert response.status_code == 302 and response["Location"] == reverse("messaging:history")

    floor_50, floor_95 = measure(floor)
    print(
        f"request floor (session, auth, permission; the Messaging tab's redirect to History): p50 {floor_50:.1f} ms, "
        f"p95 {floor_95:.1f} ms"
    )
    print(
        f"{'page':<26} {'sql p50':>8} {'sql p95':>8} {'sel p50':>8} {'sel p95':>8} {'view p50':>9} "
        f"{'view p95':>9} {'view/sql':>9} {'sel/sql':>8} {'rows':>5}"
    )
    for label, filters, after, params in pages:
        qs = hist.page_queryset(filters, after=after, columns=columns)
        sql, sql_params = qs.query.sql_with_params()

        def bare(sql: str = sql, sql_params: tuple = sql_params) -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql, sql_params)
                cursor.fetchall()

        def selector(filters: hist.Filters = filters, after: hist.Cursor | None = after) -> int:
            page = hist.history_page(filters, after=after, columns=columns)
            return len(hist.table_rows(page.rows, columns))

        def view(params: dict = params) -> None:
            response = http.get(reverse("messaging:history"), params, HTTP_HX_REQUEST="true")
            assert response.status_code == 200

        (sql_50, sql_95), (sel_50, sel_95), (view_50, view_95) = measure_together(bare, selector, view)
        print(
            f"{label:<26} {sql_50:>7.1f}ms {sql_95:>7.1f}ms {sel_50:>7.1f}ms {sel_95:>7.1f}ms {view_50:>8.1f}ms "
            f"{view_95:>8.1f}ms {view_95 / sql_95:>8.1f}x {sel_95 / sql_95:>7.1f}x {selector():>5}"
        )
    print("target: each page <= 50 ms p95 server time and <= 2x its bare SQL query")
    print("recipient search (see bench/README.md for the indexes that make it fast):")
    for label, text in (
        ("name words", "Last01234 First1234"),
        ("e-mail address", "client1234@example.org"),
        ("phone number", "(617) 000-1235"),
    ):

        def search(text: str = text) -> None:
            response = http.get(reverse("messaging:history"), {"q": text}, HTTP_HX_REQUEST="true")
            assert response.status_code == 200

        (p50, p95), (v50, v95) = measure_together(
            lambda text=text: hist.history_page(hist.Filters(q=text), columns=columns), search
        )
        print(
            f"  {label:<16} selector p50 {p50:6.1f} ms  p95 {p95:6.1f} ms   view p50 {v50:6.1f} ms  p95 {v95:6.1f} ms"
        )
    admin_changelist(
        http, pages_measured=[("first page", {}), ("filtered: failed e-mail", {"channel": "email", "status": "failed"})]
    )


ADMIN_RUNS = 5


def admin_changelist(history_http: HttpClient, pages_measured: list[tuple[str, dict]]) -> None:
    """Django admin's Delivery changelist beside History's view, same pages, same run (a few rounds: it
    counts the whole table on every page)."""
    global RUNS
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
    admin.is_staff = True
    admin.save()
    admin.user_permissions.set(Permission.objects.filter(codename="view_delivery"))
    http = HttpClient(HTTP_HOST="127.0.0.1")
    http.force_login(admin)
    print(f"Django admin changelist /admin/messaging/delivery/ beside History's view ({ADMIN_RUNS} rounds):")
    saved, RUNS = RUNS, ADMIN_RUNS
    try:
        for label, params in pages_measured:

            def changelist(params: dict = params) -> None:
                admin_params = {f"{k}__exact": v for k, v in params.items()}
                assert http.get("/admin/messaging/delivery/", admin_params).status_code == 200

            def history_view(params: dict = params) -> None:
                assert history_http.get(reverse("messaging:history"), params, HTTP_HX_REQUEST="true").status_code == 200

            (a50, a95), (h50, h95) = measure_together(changelist, history_view)
            print(
                f"  {label:<24} admin p50 {a50:8.1f} ms  p95 {a95:8.1f} ms   History view p50 {h50:6.1f} ms  "
                f"p95 {h95:6.1f} ms   admin / History {a95 / h95:6.1f}x"
            )
    finally:
        RUNS = saved


if __name__ == "__main__":
    main()
