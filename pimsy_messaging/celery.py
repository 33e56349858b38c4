"""The Celery app. Tasks are thin: they take ids and call services; the database holds the schedule."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings")

app = Celery("pimsy_messaging")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
