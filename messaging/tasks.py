"""Celery tasks of the dispatcher: thin wrappers that take ids and call ``messaging.dispatch``."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_init
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


@shared_task(name="messaging.discard_stale_recordings", ignore_result=True)
def discard_stale_recordings() -> int:
    """Delete voice recordings uploaded on the Templates screen but never confirmed (beat, hourly)."""
    from core import clock
    from messaging.template_services import discard_stale_recordings as discard

    return discard(now=clock.now())


@worker_init.connect
def load_transports(**kwargs: Any) -> None:
    """Import every channel's transport when a worker starts: a broken provider library fails the
    start instead of the first send, and the worker's memory is flat from then on."""
    from messaging.channels.base import transport_for
    from messaging.channels.registry import kinds

    for channel in kinds():
        transport_for(channel)
    from django.urls import get_resolver

    import bounces.smtp  # noqa: F401
    import messaging.channels.email.esp  # noqa: F401
    import messaging.rendering  # noqa: F401

    # The URL resolver, built once here, before the pool forks: each e-mail's unsubscribe link is a
    # reverse(), and building it cold cost each pool process ~95 ms of CPU at its first message.
    get_resolver().reverse_dict  # noqa: B018
