"""Benchmark: Send of a 100,000-recipient broadcast on PostgreSQL (target: rows written in ≤ 5 s).

Run by hand:

    createdb -h 127.0.0.1 -U postgres pimsy_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench .venv/bin/python bench/bench_send.py

Prints, for the same 100,000 delivery rows:
- ``recipients_for`` (who receives it: consent, addresses, Do-Not-Send) — the Refresh part of Send;
- ``broadcast_create`` writing the broadcast and its deliveries in one transaction (the target);
- a plain ``COPY messaging_delivery FROM STDIN`` of the same rows (the floor), and the ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402  (sets Django up on the benchmark database)
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

import pimsy_messaging.wsgi  # noqa: E402, F401  (Send is a web request: start up as gunicorn's process does)
from clients.models import Client, MessagingProfile  # noqa: E402
from messaging import broadcasts  # noqa: E402
from messaging.broadcasts import broadcast_create  # noqa: E402
from messaging.content import record_for, rendered_for, store_contents  # noqa: E402
from messaging.models import Broadcast, Delivery, MessageType, new_token  # noqa: E402
from messaging.recipients import recipients_for  # noqa: E402

N = 100_000
RUNS = 3


def populate() -> None:
    clients = Client.objects.bulk_create(
        [Client(first_name=f"First{i}", last_name=f"Last{i:06d}", cell_phone=f"+1617{i:07d}") for i in range(N)],
        batch_size=10_000,
    )
    MessagingProfile.objects.bulk_create(
        [MessagingProfile(client=c, consent_given=True) for c in clients], batch_size=10_000
    )


def copy_rows(rows: list[dict], broadcast: Broadcast) -> tuple[float, float]:
    """COPY the same rows (fresh tokens) into messaging_delivery; rolled back. Returns (seconds for the
    COPY alone, seconds for the COPY and the checks its commit would run).

    The tuples are built before the clock starts: this is the bare bulk load of the rows. Django
    declares foreign keys ``DEFERRABLE INITIALLY DEFERRED``: PostgreSQL checks them at commit, which
    ``broadcast_create`` pays (it commits) and a rolled-back COPY never reaches. ``SET CONSTRAINTS ALL
    IMMEDIATE`` runs those checks before the rollback, so the second figure is a committed COPY's work.
    """
    now = timezone.now()
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    tuples = []
    for values in rows:
        row = Delivery(
            broadcast=broadcast,
            message_type_id=broadcast.message_type_id,
            next_attempt_at=broadcast.broadcast_at,  # broadcast_create gives every queued row its own
            created_at=now,
            updated_at=now,
            token=new_token(),
            **values,
        )
        tuples.append(tuple(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields))
    with transaction.atomic():
        with connection.cursor() as cursor:
            start = time.perf_counter()
            with cursor.cursor.copy(f"COPY messaging_delivery ({columns}) FROM STDIN") as copy:
                for values in tuples:
                    copy.write_row(values)
            copied = time.perf_counter() - start
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign-key checks of a commit
            checked = time.perf_counter() - start
        transaction.set_rollback(True)
    return copied, checked


def bytes_per_delivery(broadcast: Broadcast) -> tuple[float, float, float]:
    """(row bytes now, row bytes without the issue-12 columns, content bytes per delivery once sent).

    The content is stored at sending; here it is stored as the dispatcher would, for one delivery,
    since every recipient of this broadcast gets the same text."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT avg(pg_column_size(d.*)), avg(pg_column_size(d.*) "
            "- coalesce(pg_column_size(d.template_version_id), 0) - coalesce(pg_column_size(d.content_id), 0)) "
            "FROM messaging_delivery d WHERE broadcast_id = %s",
            [broadcast.pk],
        )
        row, before = (float(v) for v in cursor.fetchone())
        delivery = Delivery.objects.filter(broadcast=broadcast).select_related("template_version").first()
        [content_id] = store_contents([record_for("sms", rendered_for(delivery))])
        cursor.execute("SELECT pg_column_size(c.*) FROM messaging_messagecontent c WHERE id = %s", [content_id])
        content = float(cursor.fetchone()[0]) / N
    return row, before, content


def main() -> None:
    assert connection.vendor == "postgresql", "this benchmark compares with PostgreSQL COPY"
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    benchlib.reset()
    t0 = time.perf_counter()
    populate()
    print(f"populated {N:,} consenting clients in {time.perf_counter() - t0:.1f} s")
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    user, _ = get_user_model().objects.get_or_create(username="bench-sender")
    broadcasts.dispatch.kick_sweeper = lambda: None  # measure the write, not the dispatcher

    start = time.perf_counter()
    recipients = recipients_for(message_type=ad_hoc, channels=["sms"])
    select_s = time.perf_counter() - start
    assert recipients.message_count == N

    write_times, copy_times, checked_times = [], [], []
    for run in range(RUNS):
        start = time.perf_counter()
        result = broadcast_create(
            message_type=ad_hoc,
            channels=["sms"],
            user=user,
            description="Benchmark",
            recipients=recipients,
            idempotency_key=f"bench-{time.time_ns()}-{run}",
        )
        write_times.append(time.perf_counter() - start)
        assert Delivery.objects.filter(broadcast=result.broadcast).count() == N
        if run == 0:
            stored = bytes_per_delivery(result.broadcast)
        rows = broadcasts._delivery_rows(result.broadcast, recipients.recipients, [], timezone.now())
        holder = Broadcast.objects.create(message_type=ad_hoc, broadcast_at=timezone.now(), channels=["sms"])
        copied, checked = copy_rows(rows, holder)
        copy_times.append(copied)
        checked_times.append(checked)
        with connection.cursor() as cursor:  # keep the table the same size for every run
            cursor.execute("DELETE FROM messaging_delivery WHERE broadcast_id = %s", [result.broadcast.pk])
    write, floor = statistics.median(write_times), statistics.median(copy_times)
    committed = statistics.median(checked_times)
    print(f"recipients_for (who receives it)          {select_s:6.2f} s  ({N:,} recipients)")
    print(
        f"broadcast_create (broadcast + deliveries)  {write:6.2f} s  median of {RUNS}: "
        + ", ".join(f"{t:.2f}" for t in write_times)
    )
    print(
        f"COPY of the same {N:,} rows                {floor:6.2f} s  median of {RUNS}: "
        + ", ".join(f"{t:.2f}" for t in copy_times)
    )
    print(
        f"COPY + the checks of its commit            {committed:6.2f} s  median of {RUNS}: "
        + ", ".join(f"{t:.2f}" for t in checked_times)
    )
    ratios = f"{write / floor:6.2f} x  ({write / committed:.2f} x COPY + checks)"
    print(f"ratio broadcast_create / COPY              {ratios}")
    whole = select_s + write
    print(
        f"Send total (select + write)                {whole:6.2f} s  = {whole / floor:.2f} x COPY, "
        f"{whole / committed:.2f} x COPY + checks (issue 16: <= 5 s and <= 2.5 x)"
    )
    row, before, content = stored
    print(
        f"bytes per delivery row                     {row:6.1f} B  (without the template version and content "
        f"ids, as before issue 12: {before:.1f} B)"
    )
    print(f"content stored per delivery once sent      {content:8.4f} B  (one shared row: the text is the same)")
    print("target: broadcast and delivery rows written in <= 5 s")


if __name__ == "__main__":
    main()
