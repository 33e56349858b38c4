from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class BouncesConfig(AppConfig):
    name = "bounces"
    verbose_name = "Bounces and Do-Not-Send list"

    def ready(self) -> None:
        checks.register(webhook_secret_check, checks.Tags.security)


def webhook_secret_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """anymail's webhooks (/anymail/<esp>/tracking/, /inbound/) accept anyone without a secret."""
    from django.conf import settings

    secret = (getattr(settings, "ANYMAIL", {}) or {}).get("WEBHOOK_SECRET")
    if secret:
        return []
    # With an anymail ESP the tracking webhooks are in use: an open one is an error. With plain
    # SMTP (or in debug) nothing posts there, so a warning is enough.
    uses_esp = str(getattr(settings, "EMAIL_BACKEND", "")).startswith("anymail.")
    if uses_esp and not settings.DEBUG:
        level, check_id = checks.Error, "bounces.E001"
    else:
        level, check_id = checks.Warning, "bounces.W001"
    return [
        level(
            "ANYMAIL['WEBHOOK_SECRET'] is not set: the e-mail tracking and inbound webhooks are open to anyone.",
            hint="Set ANYMAIL_WEBHOOK_SECRET=user:long-random-password and use it in the ESP's webhook URL.",
            id=check_id,
        )
    ]
