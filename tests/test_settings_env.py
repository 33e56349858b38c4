"""SECRET_KEY and the e-mail webhooks' secret: required by the serving processes, not by commands that
never use them; an empty variable counts as not set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    drop = {"SECRET_KEY", "PIMSY_TESTING", "PIMSY_DEMO", "DEBUG", "EMAIL_BACKEND"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("ANYMAIL_")}
    env.update(PIMSY_TESTING="0", PIMSY_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pimsy_messaging.settings")
    env.update(extra)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_web_server_refuses_to_start_without_secret_key(tmp_path):
    result = _run("import pimsy_messaging.wsgi", tmp_path)
    assert result.returncode != 0
    assert "Environment variable SECRET_KEY is required but not set." in result.stderr


def test_web_server_refuses_to_start_without_the_webhook_secret(tmp_path):
    """A bare gunicorn runs no system checks: the WSGI module asks messaging.E001's check itself."""
    for secret in ({}, {"ANYMAIL_WEBHOOK_SECRET": ""}):
        result = _run("import pimsy_messaging.wsgi", tmp_path, SECRET_KEY="s" * 50, **secret)
        assert result.returncode != 0, secret
        assert "ANYMAIL_WEBHOOK_SECRET is not set" in result.stderr and "messaging.E001" in result.stderr


def test_web_server_starts_with_the_webhook_secret(tmp_path):
    result = _run(
        "import pimsy_messaging.wsgi; print('started')",
        tmp_path,
        SECRET_KEY="s" * 50,
        ANYMAIL_WEBHOOK_SECRET="pimsy:a-long-random-webhook-secret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "started"


def test_an_empty_prefixed_variable_counts_as_not_set(monkeypatch):
    from pimsy_messaging.env import env_prefixed

    monkeypatch.setenv("PIMSYTEST_SIGNING_KEY", "")
    monkeypatch.setenv("PIMSYTEST_BLANK", "  ")
    monkeypatch.setenv("PIMSYTEST_API_KEY", "key-x")
    assert env_prefixed("PIMSYTEST_") == {"API_KEY": "key-x"}


def test_an_empty_esp_signing_key_is_a_missing_one(tmp_path):
    """``ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY=`` (as .env.example lists it) must not become an empty HMAC key
    that anyone can sign with: it is missing, so the mounted webhook cannot be built (messaging.E002)."""
    code = (
        "import django; django.setup(); from django.conf import settings;"
        " from messaging.channels.email.checks import webhook_esp_check;"
        " print(sorted(settings.ANYMAIL)); print([m.id for m in webhook_esp_check()])"
    )
    result = _run(
        code,
        tmp_path,
        PIMSY_DEMO="1",
        EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend",
        ANYMAIL_MAILGUN_API_KEY="",  # anymail's fallback for a missing signing key
        ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY="",
        ANYMAIL_WEBHOOK_SECRET="pimsy:a-long-random-webhook-secret",
    )
    assert result.returncode == 0, result.stderr
    keys, problems = result.stdout.strip().splitlines()[-2:]
    assert "MAILGUN" not in keys and "WEBHOOK_SECRET" in keys
    assert "messaging.E002" in problems


def test_web_process_freezes_what_it_made_while_starting(tmp_path):
    """The collector stops walking the start-up objects (bench/README.md: Refresh and Send)."""
    code = "import gc; import pimsy_messaging.wsgi; print(gc.get_freeze_count())"
    result = _run(code, tmp_path, PIMSY_DEMO="1")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 10_000


def test_worker_refuses_to_start_without_secret_key(tmp_path):
    code = (
        "from pimsy_messaging.celery import _require_secret_key; import django; django.setup(); _require_secret_key()"
    )
    result = _run(code, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_migration_check_runs_without_secret_key(tmp_path):
    code = (
        "from django.core.management import execute_from_command_line as m;"
        " m(['x', 'makemigrations', '--check', '--dry-run'])"
    )
    # makemigrations runs the system checks: without the e-mail webhook secret they stop it (messaging.E001).
    result = _run(code, tmp_path, ANYMAIL_WEBHOOK_SECRET="pimsy:webhook-secret")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


def test_a_checkout_without_the_production_environment_can_still_make_migrations(tmp_path):
    """The webhook secret stops what serves requests (check, migrate, runserver), not makemigrations."""
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PIMSY_TESTING", "PIMSY_DEMO", "DEBUG"}}
    env.pop("ANYMAIL_WEBHOOK_SECRET", None)
    env.update(PIMSY_TESTING="0", PIMSY_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pimsy_messaging.settings")

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    made = manage("makemigrations", "--check", "--dry-run")
    assert made.returncode == 0 and "No changes detected" in made.stdout, made.stderr
    checked = manage("check")
    assert checked.returncode != 0 and "messaging.E001" in checked.stderr
