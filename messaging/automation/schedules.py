"""The planner's Celery beat schedule (django-celery-beat rows, editable in the admin).

``ensure_automation_schedules`` runs after ``migrate`` and creates the every-minute
``automation.plan`` task if it is missing; it never overwrites an admin's edits.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

PLANNER_TASK = "automation.plan"
PLANNER_SCHEDULE_NAME = "Automated messaging: plan and release due messages"


def ensure_automation_schedules(**kwargs: Any) -> None:
    """Create the planner's beat schedule (every minute) if missing; never overwrite admin edits.

    Rows live in django-celery-beat's tables, so they are visible and editable in the admin
    (Periodic tasks). Runs after ``migrate``.
    """
    if PeriodicTask.objects.filter(name=PLANNER_SCHEDULE_NAME).exists():
        return
    every_minute = IntervalSchedule.objects.filter(every=1, period=IntervalSchedule.MINUTES).first()
    if every_minute is None:
        every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    try:
        with transaction.atomic():
            PeriodicTask.objects.create(
                name=PLANNER_SCHEDULE_NAME,
                task=PLANNER_TASK,
                interval=every_minute,
                description=(
                    "Writes automated messages (reminders, telehealth, initial confirmation, post "
                    "appointment, user renewals) when due; each is sent once. Settings 773/776/780/759/760/751."
                ),
            )
    except IntegrityError:
        pass  # created concurrently
