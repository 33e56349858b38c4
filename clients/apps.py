from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(**kwargs: Any) -> None:
    from messaging.automation import ensure_automation_schedules

    ensure_automation_schedules()


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients"

    def ready(self) -> None:
        # The automated-messaging planner's beat schedule (django-celery-beat), created once.
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="clients.automation_schedules")
