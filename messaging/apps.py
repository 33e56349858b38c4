from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from messaging.bootstrap import ensure_reference_data

        post_migrate.connect(ensure_reference_data, sender=self)
