"""SECRET_KEY: required by the serving processes, not by commands that never use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PIMSY_TESTING", "PIMSY_DEMO", "DEBUG"}}
    env.update(PIMSY_TESTING="0", PIMSY_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pimsy_messaging.settings")
    env.update(extra)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_web_server_refuses_to_start_without_secret_key(tmp_path):
    result = _run("import pimsy_messaging.wsgi", tmp_path)
    assert result.returncode != 0
    assert "Environment variable SECRET_KEY is required but not set." in result.stderr


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
