"""System checks of the e-mail webhooks (``manage.py check``, ``check --deploy``, ``migrate``, ``runserver``).

* ``messaging.E001``: ``ANYMAIL_WEBHOOK_SECRET`` is missing outside demo mode and tests. The
  webhooks refuse every request without it, so bounces and complaints would be lost; the check
  stops start-up instead (``migrate`` runs it before the web server starts; ``makemigrations``,
  which serves nothing, is not stopped). A warning (``messaging.W001``) in demo mode and tests.
* ``messaging.E002``: a mounted ESP's webhook cannot be built (a required key such as
  ``ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY`` is missing, or a package is not installed).
* ``messaging.E003``: ``ANYMAIL_WEBHOOK_ESPS`` names an ESP anymail has no webhooks for, or a kind
  other than ``tracking`` / ``inbound``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from messaging.channels.email.webhooks import (
    available_esps,
    esp_of,
    listed_endpoints,
    mounted_patterns,
    view_class_of,
    webhook_secrets,
)


def register() -> None:
    """Called from ``MessagingConfig.ready``."""
    checks.register(webhook_secret_check, checks.Tags.security)
    checks.register(webhook_esp_check, checks.Tags.security)


# Commands that start nothing that serves requests: a developer's makemigrations in a checkout
# without the production environment is not stopped by a deployment secret.
NOT_START_UP = frozenset({"makemigrations"})


def webhook_secret_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The e-mail webhooks need ``ANYMAIL_WEBHOOK_SECRET`` (basic auth); without it they refuse everything."""
    if webhook_secrets() or _running_command() in NOT_START_UP:
        return []
    relaxed = bool(getattr(settings, "DEMO_MODE", False) or getattr(settings, "TESTING", False))
    level, check_id = (checks.Warning, "messaging.W001") if relaxed else (checks.Error, "messaging.E001")
    return [
        level(
            "ANYMAIL_WEBHOOK_SECRET is not set: the e-mail tracking and inbound webhooks refuse every "
            "request, so bounces and complaints would be lost.",
            hint="Set ANYMAIL_WEBHOOK_SECRET=user:long-random-password and put it in the ESP's webhook URL "
            "(https://user:password@host/anymail/<esp>/tracking/).",
            id=check_id,
        )
    ]


def _running_command() -> str:
    """The ``manage.py`` sub-command this process runs ("" for a web server, a worker or tests)."""
    argv = sys.argv
    return argv[1] if len(argv) > 1 and Path(argv[0]).name in ("manage.py", "django-admin") else ""


def webhook_esp_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every mounted ESP webhook can be built, and ``ANYMAIL_WEBHOOK_ESPS`` names known ESPs only."""
    problems: list[checks.CheckMessage] = []
    known = available_esps()
    unknown = sorted(
        {
            f"{esp}:{kind}" if kind else esp
            for esp, kind in listed_endpoints()
            if esp not in known or kind not in ("", "tracking", "inbound")
        }
    )
    if unknown:
        problems.append(
            checks.Error(
                f"ANYMAIL_WEBHOOK_ESPS names webhooks anymail does not have: {', '.join(unknown)}.",
                hint=f"Known: {', '.join(sorted(known))}, each optionally with :tracking or :inbound.",
                id="messaging.E003",
            )
        )
    for pattern in mounted_patterns():
        view_class, initkwargs = view_class_of(pattern)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # anymail's own warning about a missing secret: see E001
                view_class(**initkwargs)
        except (ImproperlyConfigured, ImportError) as exc:
            problems.append(
                checks.Error(
                    f"The e-mail webhook /anymail/{pattern.pattern} ({esp_of(pattern)}) cannot be built: {exc}",
                    hint="Set the ESP's webhook settings (ANYMAIL_<ESP>_…) or remove it from EMAIL_BACKEND / "
                    "ANYMAIL_WEBHOOK_ESPS.",
                    id="messaging.E002",
                )
            )
    return problems
