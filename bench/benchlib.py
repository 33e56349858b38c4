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
