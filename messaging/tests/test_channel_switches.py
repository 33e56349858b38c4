"""TWILIO_ENABLED / EMAIL_ENABLED / FAX_ENABLED: a switched-off channel is shown disabled on the New
tab, and its queued messages wait with a reason (never fail) until it is switched on again."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.http import QueryDict

from clients.tests.factories import make_client
from messaging import dispatch
from messaging.forms import NewMessageForm
from messaging.models import MessageType, Status
from messaging.tests.dispatch_support import (
    _fresh_rate_limits,
    _public_base_url,
    daytime,
    fax_sim,
    make_delivery,
    refreshed,
    twilio_sim,
)

__all__ = ["_fresh_rate_limits", "_public_base_url", "daytime", "fax_sim", "twilio_sim"]

pytestmark = pytest.mark.django_db


def send_due(clock) -> None:
    for claim in dispatch.claim_due(now=clock.now()):
        dispatch.send_claimed(claim.ids, claim.token)


def test_new_tab_shows_a_switched_off_channel_disabled_and_refuses_it(settings, client):
    settings.FAX_ENABLED = False
    html = str(NewMessageForm()["channels"])
    [fax_box] = re.findall(r'<input[^>]*value="fax"[^>]*>', html)
    assert "disabled" in fax_box and "Fax (switched off)" in html
    [sms_box] = re.findall(r'<input[^>]*value="sms"[^>]*>', html)
    assert "disabled" not in sms_box
    ad_hoc = MessageType.objects.get(code="ad-hoc-clients")
    form = NewMessageForm(
        QueryDict(f"message_type={ad_hoc.pk}&channels=fax&description=x&idempotency_key=k"), sending=True
    )
    assert form.chosen_channels() == []
    assert not form.is_valid()
    assert "Fax is switched off (FAX_ENABLED=0)" in " ".join(form.errors["channels"])
    staff = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(staff)
    page = client.get("/messaging/").content.decode()
    assert "Fax (switched off)" in page


def test_queued_messages_wait_while_switched_off_and_go_when_switched_on(settings, daytime, twilio_sim):
    delivery = make_delivery(channel="sms", client=make_client())
    settings.TWILIO_ENABLED = False
    send_due(daytime)
    waiting = refreshed(delivery)
    assert waiting.status == Status.QUEUED and waiting.attempt_count == 0
    assert "Text (SMS) is switched off (TWILIO_ENABLED=0)" in waiting.status_reason
    assert twilio_sim.received() == []
    settings.TWILIO_ENABLED = True
    daytime.advance(minutes=2)
    send_due(daytime)
    assert refreshed(delivery).status == Status.SENT and len(twilio_sim.received()) == 1
