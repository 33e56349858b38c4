"""`make demo`'s activity: a real broadcast for the worker and simulators, and one paused address."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bounces.models import SoftBounce
from bounces.services import address_pause
from clients.tests.factories import make_client
from messaging.management.commands.seed_demo_activity import DESCRIPTION
from messaging.models import Broadcast, Delivery, Status

pytestmark = pytest.mark.django_db


def test_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="only in demo mode"):
        call_command("seed_demo_activity")
    assert not Broadcast.objects.exists()


def test_a_broadcast_on_three_channels_and_a_paused_number_made_once(settings):
    settings.DEMO_MODE = True
    make_client(first_name="Ana", cell_phone="+16175550001")
    make_client(first_name="Ben", cell_phone="+16175550099")
    call_command("seed_demo_activity")
    call_command("seed_demo_activity")  # idempotent
    broadcast = Broadcast.objects.get(description=DESCRIPTION)
    queued = Delivery.objects.filter(broadcast=broadcast)
    assert {d.channel for d in queued} == {"sms", "voice", "email"}
    assert queued.filter(status=Status.QUEUED).count() == queued.count() - queued.filter(status="suppressed").count()
    assert SoftBounce.objects.filter(address="+16175550001").count() == 3
    pause = address_pause("sms", "+16175550001")
    assert pause is not None and pause.expires_at is not None
    # The paused number's new message is kept off at Send, as the dispatcher would for any pause.
    assert Delivery.objects.filter(channel="sms", address="+16175550001", status=Status.FAILED).count() == 3
