"""Password strength in production and demo credentials only in demo mode (issue 13, row 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parent.parent

VALIDATE = """
import django
django.setup()
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
for password in {passwords!r}:
    try:
        validate_password(password)
    except ValidationError as exc:
        print("REJECTED", password, "|", " ".join(exc.messages))
    else:
        print("ACCEPTED", password)
"""


def _production(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``code`` run under the production settings (no DEBUG, no demo, no test mode)."""
    drop = {"PIMSY_TESTING", "PIMSY_DEMO", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        PIMSY_TESTING="0",
        PIMSY_VAR_DIR=str(tmp_path),
        SECRET_KEY="x" * 50,
        DJANGO_SETTINGS_MODULE="pimsy_messaging.settings",
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_rejects_weak_passwords_and_accepts_a_strong_one(tmp_path):
    weak = ["123456789012", "password1234", "qwertyuiop12", "aaaaaaaaaaaa", "short"]
    strong = "violet-canyon-teapot-47-orbit"
    result = _production(VALIDATE.format(passwords=[*weak, strong]), tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for password in weak:
        assert any(line.startswith(f"REJECTED {password} |") for line in lines), result.stdout
    assert f"ACCEPTED {strong}" in lines, result.stdout


@pytest.mark.django_db
def test_seed_demo_refuses_demo_credentials_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="demo mode"):
        call_command("seed_demo", clients=0)
    assert not get_user_model().objects.filter(username="demo").exists()


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_login_in_demo_mode(settings):
    settings.DEMO_MODE = True
    call_command("seed_demo", clients=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert get_user_model().objects.get(username="demo").check_password("demo")
