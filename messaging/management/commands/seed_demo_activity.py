"""Demo only: messages in every state, so History, the Failure Summary and the Do-Not-Send list have
something true to show the first time `make demo` opens (issue 15 §5).

- A broadcast sent now through the real path (the worker and the local simulators do the work once
  `make demo` starts them): text, voice and e-mail to every consenting client. The demo clients'
  numbers and addresses end in the simulators' test suffixes (README, "Demo logins, ports and test
  addresses"), so it produces deliveries, hard failures (landline, invalid number, unknown mailbox),
  soft failures that are resent, busy and unanswered calls that are redialled, voicemail, and keypad
  replies (1 confirms, 2 asks to cancel).
- Appointment reminders fall back Text (SMS) → Voice → Email when one fails (issue 14 §5; the type's
  fallback order, empty outside the demo unless an administrator sets it).
- One address paused after repeated soft failures: three earlier messages to it that ended failed
  (soft) last week, recorded through the bounce policy as the dispatcher would.

Idempotent (the Send's idempotency key, and the paused address is made once). Refuses outside demo mode.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bounces.services import address_pause, bounce_record
from bounces.taxonomy import Category, Classification
from clients.models import Client
from core import clock
from messaging.broadcasts import NothingToSend, broadcast_create
from messaging.models import Broadcast, Delivery, MessageType, Status

DESCRIPTION = "Flu shots are available at the front desk this week"
KEY = "demo-activity-flu-shots"
PAUSED_DESCRIPTION = "Parking lot closed for repaving (demo history)"


class Command(BaseCommand):
    help = "Demo mode: a broadcast in every state through the simulators, and one paused address."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo_activity sends demo messages: only in demo mode (PIMSY_DEMO=1).")
        ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
        user = get_user_model().objects.filter(username="frontdesk").first()
        reminder = MessageType.objects.filter(code="client-upcoming-appointment").first()
        if reminder is not None and not reminder.fallback_channels:
            reminder.fallback_channels = ["sms", "voice", "email"]
            reminder.save(update_fields=["fallback_channels"])
        self._paused_address(ad_hoc, user)  # first: the broadcast below shows the pause at work
        try:
            result = broadcast_create(
                message_type=ad_hoc,
                channels=["sms", "voice", "email"],
                user=user,
                description=DESCRIPTION,
                idempotency_key=KEY,
            )
        except NothingToSend:
            self.stdout.write("No consenting demo client: run seed_demo first.")
            return
        made = "created" if result.created else "already there"
        self.stdout.write(f"  broadcast #{result.broadcast.pk} '{DESCRIPTION}': {made}")

    @transaction.atomic
    def _paused_address(self, ad_hoc: MessageType, user: Any) -> None:
        client = Client.objects.filter(cell_phone__endswith="0001", messaging__consent_given=True).first()
        if client is None:
            return
        phone = client.cell_phone.as_e164
        if address_pause("sms", phone) is not None:
            return
        if Broadcast.objects.filter(description=PAUSED_DESCRIPTION).exists():
            return
        now = clock.now()
        failure = Classification(
            Category.NO_ANSWER_FROM_HOST.value, hard=False, reason="Twilio 30003: unreachable destination handset"
        )
        for days in (7, 5, 3):
            at = now - dt.timedelta(days=days)
            broadcast = Broadcast.objects.create(
                message_type=ad_hoc,
                description=PAUSED_DESCRIPTION,
                broadcast_at=at,
                channels=["sms"],
                created_by=user,
                created_at=at,
            )
            delivery = Delivery.objects.create(
                broadcast=broadcast,
                message_type=ad_hoc,
                channel="sms",
                client=client,
                recipient_name=f"{client.last_name}, {client.first_name}",
                address=phone,
                address_source="chart",
                status=Status.FAILED,
                status_reason="Unreachable destination handset (after its resends)",
                bounce_category=failure.category,
                hard_bounce=False,
                error_code="30003",
                attempt_count=3,
                sent_at=at,
                finished_at=at + dt.timedelta(hours=9),
                created_at=at,
            )
            with clock.freeze(at + dt.timedelta(hours=9)):
                bounce_record(delivery=delivery, classification=failure)
        paused = address_pause("sms", phone)
        until = f" until {paused.expires_at:%b %d}" if paused and paused.expires_at else ""
        self.stdout.write(f"  {client}'s cell phone paused after 3 soft failures{until}")
