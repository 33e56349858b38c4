"""Issue 15 §4: every staff screen fits a phone (390 px) and a laptop (1366 px) without sideways scrolling.

Each screen is also saved as a screenshot at both widths under ``var/screenshots/`` (ignored by git), for
a person to look at; the test itself checks what a screenshot would show: nothing wider than the window
but the tables that scroll inside their own box, and the sign-out link inside the window.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from clients.tests.factories import make_appointment, make_client
from tests.browser.test_accessibility import screens

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}
SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"

# What sticks out of the window, other than content scrolling inside a box of its own.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const inScroller = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === 'auto' || x === 'scroll' || x === 'hidden') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || inScroller(el)) continue;
    if (box.right > width + 1 || box.left < -1) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
      out.push(`${name} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 5)};
}"""


def test_every_staff_screen_fits_a_phone_and_a_laptop(_playwright_browser, live_server, settings) -> None:
    # A long user name: with the DEMO badge it pushed "Log out" off a phone's screen.
    get_user_model().objects.create_superuser("rosalind.administrator", password="root-pass-1234")
    settings.DEMO_MODE = True
    ana = make_client(first_name="Ana", last_name="Lopez-Villanueva")
    make_appointment(ana, start=timezone.now() + dt.timedelta(days=1))
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for name, (width, height) in WIDTHS.items():
        context = _playwright_browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "rosalind.administrator")
        page.fill("input[name=password]", "root-pass-1234")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        for path in screens(ana.pk):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            slug = re.sub(r"[^a-z0-9]+", "-", path.strip("/")) or "home"
            page.screenshot(path=str(SHOTS / f"{slug}-{width}.png"), full_page=True)
            found = page.evaluate(OVERFLOW)
            if found["scroll"] > found["width"] + 1:
                problems.append(f"{path} at {width} px: page is {found['scroll']} px wide: {found['out']}")
            logout = page.locator("form.logout button, a.logout, button:has-text('Log out')").first
            if logout.count():
                box = logout.bounding_box()
                if box is None or box["x"] + box["width"] > width + 1:
                    problems.append(f"{path} at {width} px: 'Log out' is cut off")
        # The New tab with its recipient list filled in (the widest table a receptionist sees).
        page.goto(f"{live_server.url}/messaging/")
        page.select_option("#id_message_type", label="Ad Hoc (clients)")
        page.fill("#id_description", "Office closed Friday")
        page.check("label.method:has-text('Text (SMS)') input")
        page.click("#refresh-btn")
        page.wait_for_selector("#recipients[data-channels='sms'][data-fresh='1']")
        page.screenshot(path=str(SHOTS / f"messaging-refreshed-{width}.png"), full_page=True)
        found = page.evaluate(OVERFLOW)
        if found["scroll"] > found["width"] + 1:
            problems.append(f"New tab after Refresh at {width} px: page is {found['scroll']} px wide: {found['out']}")
        context.close()
    assert problems == [], "\n".join(problems)
