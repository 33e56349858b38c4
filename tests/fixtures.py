"""Shared fixtures: services that a plain laptop may lack skip with a reason, unless REQUIRE_SERVICES=1.

CI sets REQUIRE_SERVICES=1: there, a missing PostgreSQL, Redis, worker or Chromium fails the run
instead of skipping it, so every test really runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (laptop) or fail (CI with REQUIRE_SERVICES=1) when a required component is missing."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason}; .ci/run provides it and sets REQUIRE_SERVICES=1, which turns this skip into a failure")


@pytest.fixture(scope="session")
def _playwright_browser() -> Iterator[Any]:
    need(os.path.exists(CHROMIUM), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(_playwright_browser: Any) -> Iterator[Any]:
    """A fresh browser page (its own context: cookies do not leak between tests)."""
    context = _playwright_browser.new_context(viewport={"width": 1400, "height": 950})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    """A clinic staff member with the messaging and client permissions (not a superuser)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(
        "staff", password="staff-pass-123", first_name="Sam", last_name="Staff"
    )
    codenames = [
        "view_client",
        "change_client",
        "change_messagingprofile",
        "view_appointment",
        "send_messages",
        "view_history",
        "view_donotsendentry",
        "add_donotsendentry",
        "change_donotsendentry",
    ]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def logged_in_page(page: Any, live_server: Any, staff_user: Any) -> Any:
    """A browser page logged in as ``staff_user`` at the live server."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "staff-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    from messaging.system_settings import clear_cache

    clear_cache()
    yield
    clear_cache()
