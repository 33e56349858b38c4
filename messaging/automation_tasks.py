"""Celery tasks of automated messaging (thin: they call services in messaging.automation / inbound).

``messaging/tasks.py`` holds the dispatcher's tasks; Celery imports this module too
(``CELERY_IMPORTS`` in settings). Beat runs ``automation.plan`` every minute (see
``messaging.automation.ensure_automation_schedules``; editable in the admin under Periodic tasks).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="automation.plan", ignore_result=True)
def plan_automated_messages() -> dict[str, object]:
    """Plan and release the automated messages that are due (safe to run twice, or concurrently)."""
    from messaging.automation import run_planner

    result = run_planner()
    return {"planned": result.planned, "released": result.released, "cancelled": result.cancelled}


@shared_task(name="automation.notify_reply", ignore_result=True)
def notify_clinician_of_reply(reply_id: int) -> None:
    """Tell the clinician that a client asked to cancel. The reply writes its notice itself now;
    this task stays for tasks queued before that change (the notice is idempotent on the reply)."""
    from messaging.inbound import notify_clinician

    notify_clinician(reply_id=reply_id)
