"""The dispatcher's periodic tasks in django-celery-beat (visible and editable in the admin): the sweep,
reconciliation (``messaging.dispatch.reconcile``) and the hourly clean-up of unconfirmed voice uploads."""

from __future__ import annotations

import math

from django.conf import settings

SWEEP_TASK_NAME = "Messaging: send due deliveries"
RECONCILE_TASK_NAME = "Messaging: ask providers about overdue callbacks"
RECORDINGS_TASK_NAME = "Messaging: delete unconfirmed voice uploads"


def ensure_periodic_tasks() -> None:
    """Create (or re-point) the sweeper's PeriodicTask every ``DISPATCH_SWEEP_SECONDS`` and
    reconciliation's every ``RECONCILE_SWEEP_SECONDS``; idempotent."""
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
    every = max(1, math.ceil(settings.RECONCILE_SWEEP_SECONDS))
    schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=RECONCILE_TASK_NAME,
        defaults={
            "task": "messaging.reconcile",
            "interval": schedule,
            "expire_seconds": every,  # a run still queued when the next is due is dropped, not stacked
            "description": "Asks the provider about deliveries still sent long after their status "
            "callback was due (a lost callback) and applies the answer.",
        },
    )
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.update_or_create(
        name=RECORDINGS_TASK_NAME,
        defaults={
            "task": "messaging.discard_stale_recordings",
            "interval": hourly,
            "expire_seconds": 3600,
            "description": "Deletes voice recordings uploaded on the Templates screen but never confirmed "
            "(kept 24 hours).",
        },
    )
