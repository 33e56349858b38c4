"""Issue 13, row 9: a production environment passes ``check --deploy --fail-level WARNING``; every
signed-in page is ``no-store``; CSP and Permissions-Policy are sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"

#: What an operator fills in: ``.env.example`` leaves it empty or a ``change-me`` placeholder. Every other
#: value the check sees is ``.env.example``'s own, so the file and this test cannot drift apart.
TEST_SECRETS = {
    "SECRET_KEY": "k7#Qp2vX9!mZ4rT8wL1nB6yH3cF5jD0sG_aE-uR2iO9pK4tW7xN",
    "POSTGRES_PASSWORD": "a-long-random-database-password",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "TWILIO_FROM_NUMBER": "+15555550100",
    "ANYMAIL_MAILGUN_API_KEY": "key-x",
    "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": "signing-x",
    "ANYMAIL_WEBHOOK_SECRET": "pimsy:a-long-random-webhook-secret",
    "FAX_PROJECT_ID": "p",
    "FAX_KEY_ID": "k",
    "FAX_KEY_SECRET": "s",
    "FAX_CALLBACK_PASSWORD": "a-long-random-fax-password",
}
#: A production process: neither tests nor demo mode nor DEBUG (none of them is in ``.env.example``).
PRODUCTION_MODE = {"PIMSY_TESTING": "0", "PIMSY_DEMO": "0", "DEBUG": "0"}


def env_example() -> dict[str, str]:
    """``.env.example`` as docker compose's ``env_file`` reads it: ``NAME=value`` lines, ``#`` comments."""
    values: dict[str, str] = {}
    for number, raw in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f".env.example line {number} is not NAME=value: {raw!r}")
        values[name.strip()] = value.strip()
    return values


def is_placeholder(value: str) -> bool:
    return value == "" or "change-me" in value


def production_environment() -> dict[str, str]:
    """``.env.example`` with its blanks and placeholders filled in by ``TEST_SECRETS`` (nothing else)."""
    example = env_example()
    return {**example, **TEST_SECRETS, **PRODUCTION_MODE}


def test_the_test_fills_in_only_what_env_example_leaves_to_the_operator():
    example = env_example()
    assert set(TEST_SECRETS) <= set(example), sorted(set(TEST_SECRETS) - set(example))
    assert [name for name in TEST_SECRETS if not is_placeholder(example[name])] == []
    assert not set(PRODUCTION_MODE) & set(example)
    assert example["SECURE_HSTS_PRELOAD"] == "1"  # check --deploy's security.W021 otherwise


def test_production_settings_pass_the_deploy_check(tmp_path):
    # (the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is not a production setting)
    drop = ("PIMSY_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(production_environment(), PIMSY_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pimsy_messaging.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_signed_in_pages_are_not_cached_and_carry_the_policies(client):
    staff = get_user_model().objects.create_superuser("boss", password="x")
    assert "camera=()" in client.get("/accounts/login/")["Permissions-Policy"]
    client.force_login(staff)
    for path in ("/", "/messaging/", "/messaging/history/", "/messaging/history/export.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], path
        assert "script-src 'self'" in response["Content-Security-Policy"], path
        assert "unsafe-inline" not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]
        assert "camera=()" in response["Permissions-Policy"], path
