"""Celery tasks of the bounces app: thin wrappers around ``bounces.services``."""

from __future__ import annotations

from celery import shared_task

from bounces import services


@shared_task(name="bounces.retire_expired_suppressions", ignore_result=True)
def retire_expired_suppressions() -> int:
    """Housekeeping for Celery beat (e.g. hourly): expired soft-bounce suppressions become inactive.

    Not needed for correctness (expired entries never block), it keeps the list and its
    one-active-entry constraint tidy.
    """
    return services.dns_retire_expired()
