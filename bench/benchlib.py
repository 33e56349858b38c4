"""What the Utilities > Messaging benchmarks share: Django set up against the benchmark database
(importing this module does it), and emptying the tables they fill."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings")
os.environ.setdefault("PIMSY_TESTING", "1")  # no SECRET_KEY needed; nothing is sent
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pimsy_bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

FILLED_TABLES = [
    "messaging_providerevent",
    "messaging_attempt",
    "messaging_delivery",
    "messaging_messagecontent",
    "messaging_broadcast",
    "clients_appointment",
    "clients_messagingcontact",
    "clients_messagingprofile",
    "clients_profilechange",
    "clients_client",
    "bounces_donotsendentry",
]


def reset() -> None:
    """Migrate, then empty the clients, appointments, broadcasts and deliveries of an earlier run."""
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(FILLED_TABLES)} RESTART IDENTITY CASCADE")
        else:
            for table in FILLED_TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608  (names from the list above)


def delivery_insert(varied: dict[str, str], source: str) -> tuple[str, list[object]]:
    """``INSERT INTO messaging_delivery … SELECT … FROM (<source>) s``: the columns in ``varied`` take
    its SQL expressions (over the source's columns); every other column its model default, as one
    parameter. The generators of bench_history, bench_scheduled and bench_chart_messages share it."""
    from django.utils import timezone

    from messaging.models import Delivery

    template = Delivery(created_at=timezone.now())
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key]
    exprs, params = [], []
    for f in fields:
        if f.column in varied:
            exprs.append(varied[f.column])
        else:
            exprs.append("%s")
            params.append(f.get_db_prep_save(f.pre_save(template, True), connection))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # Column names come from the model; the expressions and the source are the benchmark's own text.
    return f"INSERT INTO messaging_delivery ({columns}) SELECT {', '.join(exprs)} FROM ({source}) s", params  # noqa: S608
