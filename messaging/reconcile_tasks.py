"""Celery task of reconciliation (thin: it calls ``messaging.dispatch.reconcile``).

Celery imports this module (``CELERY_IMPORTS`` in settings); beat runs ``messaging.reconcile``
every ``RECONCILE_SWEEP_SECONDS`` (``messaging.beat.ensure_periodic_tasks``; editable in the admin).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="messaging.reconcile", ignore_result=True)
def reconcile() -> int:
    """Ask the providers about deliveries whose status callback is overdue; returns how many moved."""
    from messaging.dispatch.reconcile import reconcile_waiting

    return reconcile_waiting().applied
