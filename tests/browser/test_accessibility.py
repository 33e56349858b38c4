"""Issue 15 §1: axe-core (WCAG 2.1 A/AA) on every staff screen, and the menus by keyboard alone."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.utils import timezone

from clients.tests.factories import make_appointment, make_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def serious(page) -> list[str]:
    results = AXE.run(page, options=WCAG)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("critical", "serious"):
            for node in violation["nodes"]:
                found.append(f"{violation['id']}: {node['target']} {node.get('failureSummary', '')[:160]}")
    return found


def screens(client_id: int) -> tuple[str, ...]:
    return (
        "/",
        "/messaging/",
        "/messaging/history/",
        "/messaging/appointments/",
        "/messaging/scheduled/",
        "/messaging/failures/",
        "/messaging/templates/",
        "/messaging/templates/types/new/",
        "/bounces/do-not-send/",
        f"/clients/{client_id}/",
        f"/messaging/clients/{client_id}/messages/",
        "/clients/",
    )


def test_every_staff_screen_has_no_serious_accessibility_violation(page, live_server):
    get_user_model().objects.create_superuser("root", password="root-pass-1234")
    ana = make_client(first_name="Ana", last_name="Lopez")
    make_appointment(ana, start=timezone.now() + dt.timedelta(days=1))
    page.goto(f"{live_server.url}/accounts/login/")
    assert serious(page) == []
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "root-pass-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    problems: dict[str, list[str]] = {}
    for path in screens(ana.pk):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status < 400, path
        page.wait_for_load_state("networkidle")
        found = serious(page)
        if found:
            problems[path] = found
    assert problems == {}, "\n".join(f"{path}: {p}" for path, ps in problems.items() for p in ps)


def test_both_menus_work_with_the_keyboard_alone(page, live_server):
    get_user_model().objects.create_superuser("root", password="root-pass-1234")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "root-pass-1234")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.focus("a.brand")
    page.keyboard.press("Tab")
    clients = page.locator("button.menu-title", has_text="Clients")
    assert clients.evaluate("b => b === document.activeElement")
    assert clients.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    assert clients.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.textContent") == "Client Management"
    page.keyboard.press("Escape")
    assert clients.get_attribute("aria-expanded") == "false"
    assert clients.evaluate("b => b === document.activeElement")
    page.keyboard.press("Tab")
    utilities = page.locator("button.menu-title", has_text="Utilities")
    assert utilities.evaluate("b => b === document.activeElement")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.textContent") == "Messaging"
    for _ in range(2):
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == "Failure Summary"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/messaging/failures/")
