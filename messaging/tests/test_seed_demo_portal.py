"""`make demo`'s portal step: known passwords only in demo mode."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clients.models import PortalAccount
from clients.tests.factories import make_client
from messaging.system_settings import clear_cache, get_setting

pytestmark = pytest.mark.django_db


def test_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="only in demo mode"):
        call_command("seed_demo_portal")
    assert not PortalAccount.objects.exists()


def test_switches_the_portal_on_and_makes_three_logins_once(settings):
    settings.DEMO_MODE = True
    for _ in range(5):
        make_client()
    make_client(consent=False)
    call_command("seed_demo_portal")
    call_command("seed_demo_portal")  # idempotent
    clear_cache()
    assert get_setting(620)
    accounts = PortalAccount.objects.select_related("user", "client__messaging")
    assert accounts.count() == 3 and all(a.client.messaging.consent_given for a in accounts)
    assert all(a.user.check_password("portal-demo-2026") for a in accounts)
