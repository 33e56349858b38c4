"""The demo page listing what each provider simulator received."""

from __future__ import annotations

import pytest

from messaging import dispatch
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    fax_sim,
    make_delivery,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "fax_sim", "twilio_sim"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.DEMO_MODE = True
    return settings


def test_login_is_required(client, demo):
    response = client.get("/messaging/simulators/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_only_staff_see_the_page(client, django_user_model, demo):
    client.force_login(django_user_model.objects.create_user("sender"))
    assert client.get("/messaging/simulators/").status_code == 403
    assert "Provider Simulators" not in client.get("/").content.decode()


def test_the_page_does_not_exist_outside_demo_mode(client, django_user_model, settings):
    settings.DEMO_MODE = False
    client.force_login(django_user_model.objects.create_user("admin", is_staff=True, is_superuser=True))
    assert client.get("/messaging/simulators/").status_code == 404
    assert "Provider Simulators" not in client.get("/").content.decode()


def test_lists_what_each_simulator_received(client, django_user_model, daytime, twilio_sim, fax_sim, demo):
    settings = demo
    settings.SIMULATOR_CONTROL_URLS = {"twilio": twilio_sim.url, "fax": fax_sim.url, "smtp": ""}
    settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD = "fax", "secret-password"
    settings.RATE_LIMITS_PER_SECOND = {**settings.RATE_LIMITS_PER_SECOND, "fax": 100.0}
    sms = make_delivery(channel="sms", description="Flu shots available")
    make_delivery(channel="fax")
    for claim in dispatch.claim_due(now=daytime.now()):
        dispatch.send_claimed(claim.ids, claim.token)
    client.force_login(django_user_model.objects.create_user("viewer", is_staff=True))
    assert "Provider Simulators" in client.get("/").content.decode()
    page = client.get("/messaging/simulators/").content.decode()
    assert "Twilio (SMS and calls)" in page and "1 received" in page
    assert sms.address in page and "Flu shots available" in page
    assert "1 page(s)" in page
    assert "Not configured" in page  # SMTP
    assert "secret-password" not in page
    partial = client.get("/messaging/simulators/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="received"') and "<html" not in partial


def test_staff_can_play_a_twilio_outage_in_the_demo(client, django_user_model, twilio_sim, demo):
    demo.SIMULATOR_CONTROL_URLS = {"twilio": twilio_sim.url, "fax": "", "smtp": ""}
    client.force_login(django_user_model.objects.create_user("trainer", is_staff=True))
    assert client.get("/messaging/simulators/outage/").status_code == 405  # a POST only
    response = client.post("/messaging/simulators/outage/", follow=True)
    assert response.status_code == 200 and "now fails for 60 s" in response.content.decode()
    assert twilio_sim.sim.outage.state() == "failing"
    twilio_sim.sim.outage.stop()


def test_the_outage_button_is_for_staff_in_demo_mode_only(client, django_user_model, settings):
    client.force_login(django_user_model.objects.create_user("desk"))
    settings.DEMO_MODE = True
    assert client.post("/messaging/simulators/outage/").status_code == 403
    settings.DEMO_MODE = False
    client.force_login(django_user_model.objects.create_user("boss", is_staff=True))
    assert client.post("/messaging/simulators/outage/").status_code == 404
