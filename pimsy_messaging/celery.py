"""The Celery app. Tasks are thin: they take ids and call services; the database holds the schedule."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings")

app = Celery("pimsy_messaging")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
@beat_init.connect
def _require_secret_key(**kwargs: Any) -> None:
    """Workers and beat sign webhook and audio URLs: they must not start without SECRET_KEY."""
    from pimsy_messaging.env import require_secret_key

    require_secret_key()
