"""Benchmark: the Scheduled tab with 1,000,000 deliveries (target: the page ≤ 100 ms p95 server time).

Run by hand (PostgreSQL), on a database of its own:

    createdb -h 127.0.0.1 -U postgres pimsy_bench_scheduled
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench_scheduled .venv/bin/python bench/bench_scheduled.py

The rows are generated once (kept between runs; ``--rebuild`` makes them again), shaped like a year of
a clinic's messaging: 1,000,000 finished deliveries in 2,000 manual broadcasts and 5,000 automated
ones (one per type and day), then what is not finished: three broadcasts dated ahead (10,000 queued
each), one sending (20,000: half delivered, some sent, some out for sending, the rest queued) and
ten automated groups waiting (200 each, one of them held). Prints p50/p95 of ``scheduled_page``
(the selector), the whole page request (middleware, session, permissions, template) as a user with
send + hold permissions, a running broadcast's polled card, and the page with one automated group
opened (its recipients listed, an access-log row written), measured in turn in each round.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402  (sets Django up on the benchmark database)
from bench_history import measure, measure_together  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from messaging import scheduled as sched  # noqa: E402
from messaging.models import (  # noqa: E402
    Broadcast,
    Delivery,
    DeliveryHold,
    MessageTemplate,
    MessageType,
    TemplateVersion,
)

HISTORY = 1_000_000
MANUAL, AUTOMATED = 2_000, 5_000
MANUAL_ROWS = 350  # 2,000 x 350 = 700,000; the automated ones share the other 300,000
FINISHED = (
    "CASE WHEN b < 80 THEN 'delivered' WHEN b < 88 THEN 'failed' WHEN b < 93 THEN 'suppressed' "
    "WHEN b < 96 THEN 'cancelled' ELSE 'sent' END"
)


def insert(count: int, *, broadcast: str, status: str, next_attempt: str = "NULL", created: str = "now()") -> None:
    """INSERT … SELECT generate_series(1, count): every Delivery column, defaults where not varied.

    In the expressions ``g`` is the row number and ``b`` a pseudo-random 0–99."""
    varied = {
        "channel": "CASE WHEN b < 60 THEN 'sms' WHEN b < 90 THEN 'email' ELSE 'voice' END",
        "recipient_name": "'Last' || lpad((g %% 50000)::text, 5, '0') || ', First' || (g %% 50000)",
        "address": "'+1617' || lpad((g %% 10000000)::text, 7, '0')",
        "status": status,
        "token": "md5(random()::text || g)",
        "created_at": created,
        "updated_at": created,
        "next_attempt_at": next_attempt,
        "broadcast_id": broadcast,
        "message_type_id": "(SELECT message_type_id FROM messaging_broadcast WHERE id = " + broadcast + ")",
    }
    sql, params = benchlib.delivery_insert(
        varied, f"SELECT g, (g::bigint * 7919) %% 100 AS b FROM generate_series(1, {count}) g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def build(rebuild: bool) -> None:
    call_command("migrate", verbosity=0)
    if not rebuild and Broadcast.objects.filter(description="Bench scheduled: sending").exists():
        print(f"reusing the generated deliveries ({Delivery.objects.count():,}; --rebuild to make them again)")
        return
    benchlib.reset()
    start = time.perf_counter()
    User = get_user_model()
    senders = [User.objects.get_or_create(username=f"bench-staff-{i}")[0] for i in range(5)]
    manual_types = list(MessageType.objects.filter(is_manual=True).order_by("id"))
    auto_types = list(MessageType.objects.filter(is_manual=False).order_by("id")) or manual_types
    now = timezone.now()
    year_ago = now - timezone.timedelta(days=365)

    def made(i: int, *, automated: bool, at: timezone.datetime, what: str) -> Broadcast:
        types = auto_types if automated else manual_types
        return Broadcast(
            message_type=types[i % len(types)],
            description=what,
            broadcast_at=at,
            start_date=at.date(),
            end_date=at.date(),
            channels=["sms", "email"],
            created_by=None if automated else senders[i % 5],
            automated=automated,
            created_at=at,
        )

    old = Broadcast.objects.bulk_create(
        [made(i, automated=False, at=year_ago + (now - year_ago) * i / MANUAL, what="Bench") for i in range(MANUAL)]
        + [
            made(i, automated=True, at=year_ago + (now - year_ago) * i / AUTOMATED, what="Bench auto")
            for i in range(AUTOMATED)
        ]
    )
    first_manual, first_auto = old[0].pk, old[MANUAL].pk
    insert(
        MANUAL * MANUAL_ROWS,
        broadcast=f"{first_manual} + (g - 1) / {MANUAL_ROWS}",
        status=FINISHED,
        created=f"now() - interval '365 days' + (g - 1) / {MANUAL_ROWS} * interval '4 hours'",
    )
    rest = HISTORY - MANUAL * MANUAL_ROWS
    insert(
        rest,
        broadcast=f"{first_auto} + (g - 1) %% {AUTOMATED}",
        status=FINISHED,
        created="now() - interval '365 days' + (g - 1) %% 5000 * interval '105 minutes'",
    )
    for k in range(3):  # dated ahead
        ahead = made(k, automated=False, at=now + timezone.timedelta(days=k + 1), what=f"Bench scheduled: ahead {k}")
        ahead.created_at = now
        ahead.save()
        insert(10_000, broadcast=str(ahead.pk), status="'queued'", next_attempt=f"now() + interval '{k + 1} days'")
    sending = Broadcast.objects.create(
        message_type=manual_types[0],
        broadcast_at=now - timezone.timedelta(minutes=5),
        channels=["sms"],
        created_by=senders[0],
        description="Bench scheduled: sending",
    )
    insert(
        20_000,
        broadcast=str(sending.pk),
        status="CASE WHEN g <= 10000 THEN 'delivered' WHEN g <= 12000 THEN 'sent' WHEN g <= 12050 THEN 'sending' "
        "ELSE 'queued' END",
        next_attempt="now()",
    )
    groups = []
    for day in range(10):
        at = now + timezone.timedelta(days=day)
        g = Broadcast.objects.create(
            message_type=auto_types[day % len(auto_types)],
            broadcast_at=at,
            start_date=at.date(),
            end_date=at.date(),
            channels=["sms"],
            automated=True,
            description="Bench scheduled: automated",
        )
        insert(200, broadcast=str(g.pk), status="'scheduled'", next_attempt=f"now() + interval '{day} days'")
        groups.append(g)
    held = list(Delivery.objects.filter(broadcast=groups[-1]).values_list("pk", "next_attempt_at"))
    DeliveryHold.objects.bulk_create([DeliveryHold(delivery_id=pk, due_at=due, held_by=senders[0]) for pk, due in held])
    Delivery.objects.filter(broadcast=groups[-1]).update(next_attempt_at=None)
    with connection.cursor() as cursor:
        for table in ("messaging_delivery", "messaging_broadcast", "messaging_deliveryhold"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"generated {Delivery.objects.count():,} deliveries in {time.perf_counter() - start:.1f} s")


def main() -> None:
    logging.getLogger("django.request").setLevel(logging.ERROR)
    if connection.vendor != "postgresql":
        raise SystemExit("the Scheduled benchmark runs on PostgreSQL")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    build("--rebuild" in sys.argv)
    user, _ = get_user_model().objects.get_or_create(username="bench-scheduler")
    user.user_permissions.set(Permission.objects.filter(codename__in=["send_messages", "hold_automated"]))
    http = HttpClient(HTTP_HOST="127.0.0.1")
    http.force_login(user)
    page = sched.scheduled_page()
    print(f"listed: {len(page.broadcasts)} broadcasts, {len(page.groups)} automated groups")
    sending = Broadcast.objects.get(description="Bench scheduled: sending")
    group = page.groups[0].broadcast.pk
    since = int(timezone.now().timestamp())

    def selector() -> None:
        sched.scheduled_page()

    def view() -> None:
        assert http.get(reverse("messaging:scheduled")).status_code == 200

    def card() -> None:
        url = reverse("messaging:scheduled-card", args=[sending.pk])
        assert http.get(url, {"since": since}, HTTP_HX_REQUEST="true").status_code == 200

    def opened() -> None:
        assert http.get(reverse("messaging:scheduled"), {"group": group}).status_code == 200

    viewer, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    viewer.user_permissions.set(Permission.objects.filter(codename="view_history"))
    floor_http = HttpClient(HTTP_HOST="127.0.0.1")
    floor_http.force_login(viewer)

    def floor() -> None:  # session, login, permission, no page work: the Messaging tab's redirect to History
        assert floor_http.get(reverse("messaging:new")).status_code == 302

    # The Templates screen (issue 14 §2) on the same 1,000,000 deliveries: list, a type, a template's
    # editor and a version, as a user with the manage_templates permission.
    editor, _ = get_user_model().objects.get_or_create(username="bench-editor")
    editor.user_permissions.set(Permission.objects.filter(codename="manage_templates"))
    templates_http = HttpClient(HTTP_HOST="127.0.0.1")
    templates_http.force_login(editor)
    template = MessageTemplate.objects.filter(channel="sms").select_related("message_type").first()
    version = TemplateVersion.objects.filter(message_type=template.message_type).first()
    if version is None:  # the generated deliveries carry no versions: make the type's first one
        version = TemplateVersion.objects.create(
            template=template, message_type=template.message_type, channel=template.channel,
            language=template.language, number=1, digest="bench".ljust(64, "0"), sms_body=template.sms_body,
        )  # fmt: skip

    def templates_list() -> None:
        assert templates_http.get(reverse("messaging:templates")).status_code == 200

    def template_editor() -> None:
        url = reverse("messaging:templates-edit", args=[template.message_type_id, template.channel])
        assert templates_http.get(url).status_code == 200

    def template_type() -> None:
        url = reverse("messaging:templates-type", args=[template.message_type_id])
        assert templates_http.get(url).status_code == 200

    def template_version() -> None:
        assert templates_http.get(reverse("messaging:templates-version", args=[version.pk])).status_code == 200

    f50, f95 = measure(floor)
    print(f"request floor (session, auth, permission; a redirect): p50 {f50:.1f} ms, p95 {f95:.1f} ms")
    results = measure_together(
        selector, view, card, opened, templates_list, template_type, template_editor, template_version
    )
    labels = (
        "scheduled_page (selector)", "page request", "polled card (sending)", "page + group opened",
        "Templates: list", "Templates: a type", "Templates: editor (SMS)", "Templates: a version",
    )  # fmt: skip
    for label, (p50, p95) in zip(labels, results, strict=True):
        print(f"{label:<28} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    print("target: each page <= 100 ms p95 server time with 1,000,000 deliveries")
    with connection.cursor() as cursor:
        sql, params = sched._listed(timezone.now()).query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
