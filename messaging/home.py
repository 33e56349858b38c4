"""The staff home page's numbers (issue 15 §5): today's messages at a glance, and the confirmation rate.

"Today" is the clinic's calendar day (``core.clock.clinic_zone``). Sent, delivered and failed count the
messages made today by where each is now, as History counts them (its date filter is the day a message
was made, so every number links to the History list it came from); waiting counts every message queued to go
out, whenever it was made. Replies to read are the clients' answers nobody has marked reviewed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from clients.models import Appointment, ConfirmationStatus
from core import clock
from messaging.models import AppointmentReply, Broadcast, Delivery, Status

CONFIRMATION_DAYS = 30


@dataclass(frozen=True)
class TodayNumbers:
    day: dt.date
    sent: int
    delivered: int
    failed: int
    waiting: int
    replies_to_read: int
    scheduled_broadcasts: int
    reminded_appointments: int  # of the last 30 days: appointments a message was sent for
    confirmed_appointments: int  # of those, how many the client confirmed

    @property
    def confirmation_rate(self) -> int | None:
        """Percent of reminded appointments the client confirmed (None when nothing was reminded)."""
        if not self.reminded_appointments:
            return None
        return round(100 * self.confirmed_appointments / self.reminded_appointments)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())  # as History


def today_numbers() -> TodayNumbers:
    now = clock.now()
    day = timezone.localdate(now)
    start = _day_start(day)
    counts = Delivery.objects.filter(created_at__gte=start).aggregate(
        sent=Count("id", filter=Q(status=Status.SENT)),
        delivered=Count("id", filter=Q(status=Status.DELIVERED)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
    )
    waiting = Delivery.objects.filter(status=Status.QUEUED).count()
    since = now - dt.timedelta(days=CONFIRMATION_DAYS)
    reminded = Appointment.objects.filter(start__gte=since, start__lt=now, deliveries__sent_at__isnull=False).distinct()
    rate = reminded.aggregate(
        reminded=Count("id", distinct=True),
        confirmed=Count("id", distinct=True, filter=Q(confirmation=ConfirmationStatus.CONFIRMED)),
    )
    return TodayNumbers(
        day=day,
        sent=counts["sent"],
        delivered=counts["delivered"],
        failed=counts["failed"],
        waiting=waiting,
        replies_to_read=AppointmentReply.objects.filter(reviewed_at__isnull=True).count(),
        scheduled_broadcasts=Broadcast.objects.filter(
            state=Broadcast.State.ACTIVE, automated=False, broadcast_at__gt=now
        ).count(),
        reminded_appointments=rate["reminded"],
        confirmed_appointments=rate["confirmed"],
    )
