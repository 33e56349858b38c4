"""Demo only: a broadcast dated a few days ahead, so Utilities > Messaging > Scheduled has one to show.

`make demo` runs it after `seed_demo`; running it again changes nothing (the Send's idempotency key).
The automated messages waiting on the same tab come from the planner, which Celery beat runs every
minute in the demo (or `manage.py plan_automated_messages` once).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core import clock
from messaging.broadcasts import NothingToSend, broadcast_create
from messaging.models import MessageType

DESCRIPTION = "Office closed for staff training: appointments move to the next day"


class Command(BaseCommand):
    help = "Demo mode: create a broadcast dated three weekdays ahead at 10:00 AM (shown on the Scheduled tab)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo_scheduled writes demo messages: only in demo mode (PIMSY_DEMO=1).")
        zone = clock.clinic_zone()
        day = clock.now().astimezone(zone).date()
        for _ in range(3):
            day += dt.timedelta(days=1)
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
        at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=zone)
        user = get_user_model().objects.filter(username="demo").first()
        try:
            result = broadcast_create(
                message_type=MessageType.objects.get(code="ad-hoc-clients"),
                channels=["sms", "email"],
                user=user,
                description=DESCRIPTION,
                broadcast_at=at,
                only_preferences=True,
                idempotency_key=f"demo-scheduled-{day.isoformat()}",
            )
        except NothingToSend:
            self.stdout.write("No demo client can receive the scheduled broadcast; nothing created.")
            return
        what = "created" if result.created else "already there"
        message = f"Scheduled broadcast #{result.broadcast.pk} for {at:%a %b %d %H:%M} {what}."
        self.stdout.write(self.style.SUCCESS(message))
