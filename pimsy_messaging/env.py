"""Typed helpers that read settings from the environment and fail with a message naming the variable."""

from __future__ import annotations

import os
from collections.abc import Callable


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or cannot be parsed."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ConfigurationError(f"Environment variable {name} is required but not set.")
        return default if default is not None else ""
    return value


def require_secret_key() -> None:
    """Stop a serving process (web, worker, beat) at start-up when SECRET_KEY is missing."""
    import importlib

    # Read the settings module itself: Django's own empty-key error does not name the variable.
    module = importlib.import_module(os.environ.get("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings"))
    if not getattr(module, "SECRET_KEY", ""):
        raise ConfigurationError("Environment variable SECRET_KEY is required but not set.")


def require_webhook_secret() -> None:
    """Stop the web server at start-up when the e-mail webhooks have no secret (``messaging.E001``).

    ``migrate`` and ``runserver`` run the system checks; a bare ``gunicorn`` does not, so it asks the
    check itself. Only an error stops it: in demo mode and tests the check answers with a warning.
    Call it once Django is set up (the check reads the settings)."""
    from django.core import checks

    from messaging.channels.email.checks import webhook_secret_check

    errors = [message for message in webhook_secret_check() if message.level >= checks.ERROR]
    if errors:
        raise ConfigurationError(" ".join(f"{message.msg} ({message.id}; {message.hint})" for message in errors))


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"Environment variable {name} must be a yes/no value (1/0, true/false), got {raw!r}.")


def _parse(name: str, default: object, cast: Callable[[str], object]) -> object:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return cast(raw.strip())
    except ValueError as exc:
        raise ConfigurationError(f"Environment variable {name} has an invalid value {raw!r}: {exc}") from exc


def env_int(name: str, default: int) -> int:
    return int(_parse(name, default, int))  # type: ignore[arg-type]


def env_float(name: str, default: float) -> float:
    return float(_parse(name, default, float))  # type: ignore[arg-type]


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_prefixed(prefix: str) -> dict[str, str]:
    """Every variable starting with ``prefix`` that has a value, keyed by the rest of its name
    (ANYMAIL_X -> X). An empty one counts as not set, as in ``env_str``: ``.env.example`` lists keys
    such as ``ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY=`` to be filled in, and a blank must stay missing."""
    return {
        key[len(prefix) :]: value for key, value in os.environ.items() if key.startswith(prefix) and value.strip() != ""
    }
