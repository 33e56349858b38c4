"""The dispatcher's periodic task in django-celery-beat (visible and editable in the admin)."""

from __future__ import annotations

import math

from django.conf import settings

SWEEP_TASK_NAME = "Messaging: send due deliveries"


def ensure_periodic_tasks() -> None:
    """Create (or re-point) the sweeper's PeriodicTask every ``DISPATCH_SWEEP_SECONDS``; idempotent."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = max(1, math.ceil(settings.DISPATCH_SWEEP_SECONDS))
    schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=SWEEP_TASK_NAME,
        defaults={
            "task": "messaging.sweep",
            "interval": schedule,
            "description": "Claims due deliveries, restarts unfinished jobs and enqueues their sends.",
        },
    )
