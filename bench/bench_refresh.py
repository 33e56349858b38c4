"""Benchmark: Refresh on the New tab over 20,000 appointments (target ≤ 1 s, constant query count).

Run by hand (PostgreSQL recommended):

    createdb -h 127.0.0.1 -U postgres pimsy_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pimsy_bench .venv/bin/python bench/bench_refresh.py

Prints the selector time (``recipients_for``) and the whole Refresh request (form, selector and the
rendered list) for 2,000 and 20,000 appointments in range, with the number of SQL queries of each,
and the floor measured in the same run: ``bare SQL`` replays the selector's own statements (as
captured from it, parameters included) on the raw psycopg connection and fetches every row, with no
Django and no Python work on the rows (target: selector and request ≤ 3 × that, ≤ 0.5 s).

``--frozen-heap``: start up as the web process does, by importing ``pimsy_messaging.wsgi`` (which
``gc.freeze()``s what start-up made, so the garbage collector's full collections no longer walk
Django's own objects). Without it (the default, as in the earlier figures) the process is set up by
``benchlib`` alone and every full collection during a Refresh walks those objects too.
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402  (sets Django up on the benchmark database)

FROZEN_HEAP = "--frozen-heap" in sys.argv[1:]
if FROZEN_HEAP:
    import pimsy_messaging.wsgi  # noqa: F401  (start up as gunicorn's process does: gc.freeze())
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bounces.models import DoNotSendEntry  # noqa: E402
from clients.models import Appointment, Client, MessagingContact, MessagingProfile, StaffProfile  # noqa: E402
from messaging.models import MessageType  # noqa: E402
from messaging.recipients import recipients_for  # noqa: E402

BIG = 20_000
SMALL = 2_000
RUNS = 5
CHANNELS = ["sms", "email"]


def populate(day: dt.date) -> None:
    """BIG clients, each with one appointment: SMALL of them on ``day``, the rest on the next days."""
    User = get_user_model()
    clinicians = []
    for i in range(10):
        user, _ = User.objects.get_or_create(
            username=f"bench-clin-{i}", defaults={"first_name": "C", "last_name": str(i)}
        )
        StaffProfile.objects.get_or_create(user=user, defaults={"display_name": f"Clinician {i}, LCSW"})
        clinicians.append(user)
    clients = Client.objects.bulk_create(
        [
            Client(
                first_name=f"First{i}",
                last_name=f"Last{i:05d}",
                cell_phone=f"+1617{i:07d}",
                phone=f"+1508{i:07d}",
                email=f"client{i}@example.org",
            )
            for i in range(BIG)
        ],
        batch_size=5000,
    )
    MessagingProfile.objects.bulk_create(
        [
            MessagingProfile(
                client=c,
                consent_given=i % 10 != 0,
                use_client_detail_info=i % 7 != 0,
                preferred_contact_method="email" if i % 3 == 0 else "text",
            )
            for i, c in enumerate(clients)
        ],
        batch_size=5000,
    )
    MessagingContact.objects.bulk_create(
        [
            MessagingContact(client=c, cell_phone=f"+1781{i:07d}", email=f"alt{i}@example.org")
            for i, c in enumerate(clients)
            if i % 7 == 0
        ],
        batch_size=5000,
    )
    zone = timezone.get_current_timezone()
    appointments = []
    for i, c in enumerate(clients):
        offset = 0 if i < SMALL else 1 + i % 6
        start = dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(8 + i % 10), tzinfo=zone)
        appointments.append(
            Appointment(
                client=c,
                clinician=clinicians[i % 10],
                start=start,
                end=start + dt.timedelta(minutes=50),
                status="cancelled" if i % 50 == 0 else "scheduled",
                location="Main Office",
            )
        )
    Appointment.objects.bulk_create(appointments, batch_size=5000)
    DoNotSendEntry.objects.bulk_create(
        [DoNotSendEntry(channel="sms", address=f"+1617{i:07d}", reason="sms_stop") for i in range(0, BIG, 97)]
    )
    with connection.cursor() as cursor:  # statistics as autovacuum would have them for tables this size
        cursor.execute(
            "ANALYZE clients_client, clients_messagingprofile, clients_messagingcontact, clients_appointment, "
            "bounces_donotsendentry"
        )


def timed(fn, runs: int = RUNS) -> tuple[float, float, int]:
    """(median seconds, max seconds, queries of the last run)."""
    times = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        queries = len(ctx.captured_queries)
    return statistics.median(times), max(times), queries


def bare_sql(statements: list[str]) -> None:
    """The selector's statements on the raw database connection, every row fetched."""
    raw = connection.connection  # psycopg's own connection, under Django's wrapper
    with raw.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql.encode())
            cursor.fetchall()


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    benchlib.reset()
    day = timezone.localdate() + dt.timedelta(days=1)
    t0 = time.perf_counter()
    populate(day)
    print(f"populated {BIG:,} clients and appointments in {time.perf_counter() - t0:.1f} s")
    if FROZEN_HEAP:
        print(f"started as the web process: {gc.get_freeze_count():,} objects frozen by pimsy_messaging.wsgi")
    upcoming = MessageType.objects.get(code="client-upcoming-appointment")
    user, _ = get_user_model().objects.get_or_create(username="bench-sender")
    user.user_permissions.set(Permission.objects.filter(codename="send_messages"))
    http = HttpClient(HTTP_HOST="127.0.0.1")
    http.force_login(user)

    print(
        f"{'appointments':>13} {'what':<22} {'median':>8} {'max':>8} {'queries':>8} {'recipients':>11} {'excluded':>9}"
    )
    for n, end in ((SMALL, day), (BIG, day + dt.timedelta(days=6))):

        def selector(end: dt.date = end):
            return recipients_for(message_type=upcoming, channels=CHANNELS, start_date=day, end_date=end)

        with CaptureQueriesContext(connection) as ctx:
            result = selector()
        statements = [query["sql"] for query in ctx.captured_queries]
        floor, floor_worst, _ = timed(lambda statements=statements: bare_sql(statements))
        print(f"{n:>13,} {'bare SQL (floor)':<22} {floor:>7.3f}s {floor_worst:>7.3f}s {len(statements):>8}")
        med, worst, queries = timed(selector)
        print(
            f"{n:>13,} {'recipients_for':<22} {med:>7.3f}s {worst:>7.3f}s {queries:>8} "
            f"{len(result.recipients):>11,} {len(result.excluded):>9,}   {med / floor:.2f} x SQL"
        )

        data = {
            "message_type": upcoming.pk,
            "start_date": day.isoformat(),
            "end_date": end.isoformat(),
            "broadcast_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "channels": CHANNELS,
        }

        def request(data: dict = data):
            response = http.post(reverse("messaging:refresh"), data, HTTP_HX_REQUEST="true")
            assert response.status_code == 200, response.status_code

        med, worst, queries = timed(request)
        print(
            f"{n:>13,} {'Refresh request (view)':<22} {med:>7.3f}s {worst:>7.3f}s {queries:>8} "
            f"{'':>11} {'':>9}   {med / floor:.2f} x SQL"
        )
    print(
        "target: Refresh over 20,000 appointments <= 0.5 s and <= 3 x its bare SQL (same run); "
        "the query count does not grow with the rows"
    )


if __name__ == "__main__":
    main()
