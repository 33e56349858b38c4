"""The dispatcher's periodic tasks in django-celery-beat (visible and editable in the admin): the sweep
and reconciliation (``messaging.dispatch.reconcile``)."""

from __future__ import annotations

import math

from django.conf import settings

SWEEP_TASK_NAME = "Messaging: send due deliveries"
RECONCILE_TASK_NAME = "Messaging: ask providers about overdue callbacks"


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
