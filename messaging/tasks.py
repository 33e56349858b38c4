"""Celery tasks of the dispatcher: thin wrappers that take ids and call ``messaging.dispatch``."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from messaging import dispatch


@shared_task(name="messaging.sweep", ignore_result=True)
def sweep() -> int:
    """Claim due deliveries and enqueue their sends (Celery beat runs this every few seconds)."""
    return dispatch.sweep_due()


@shared_task(name="messaging.send_batch", ignore_result=True, acks_late=True)
def send_batch(delivery_ids: list[int], claim_token: str) -> int:
    """Send deliveries claimed under ``claim_token``; a redelivered task finds nothing still claimed."""
    return dispatch.send_claimed(delivery_ids, claim_token, drain_seconds=settings.DISPATCH_SWEEP_SECONDS)
