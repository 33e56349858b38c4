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

PRODUCTION = {
    "PIMSY_TESTING": "0",
    "PIMSY_DEMO": "0",
    "DEBUG": "0",
    "SECRET_KEY": "k7#Qp2vX9!mZ4rT8wL1nB6yH3cF5jD0sG_aE-uR2iO9pK4tW7xN",
    "ALLOWED_HOSTS": "pimsy.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://pimsy.example.org",
    "PUBLIC_BASE_URL": "https://pimsy.example.org",
    "BEHIND_PROXY": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "1",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "TWILIO_FROM_NUMBER": "+15555550100",
    "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
    "ANYMAIL_MAILGUN_API_KEY": "key-x",
    "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": "signing-x",
    "ANYMAIL_WEBHOOK_SECRET": "pimsy:a-long-random-webhook-secret",
    "FAX_PROJECT_ID": "p",
    "FAX_KEY_ID": "k",
    "FAX_KEY_SECRET": "s",
    "FAX_CALLBACK_USER": "fax",
    "FAX_CALLBACK_PASSWORD": "a-long-random-fax-password",
}


def test_production_settings_pass_the_deploy_check(tmp_path):
    # (the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is not a production setting)
    drop = ("PIMSY_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PRODUCTION, PIMSY_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pimsy_messaging.settings")
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
