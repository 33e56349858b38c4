"""`make demo`'s staff logins: one per clinic role, each allowed exactly its job, only in demo mode."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.management.commands.seed_demo_staff import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="only in demo mode"):
        call_command("seed_demo_staff")
    assert not get_user_model().objects.filter(username="frontdesk").exists()


def test_each_role_signs_in_and_reaches_its_own_screens_only(settings, client):
    settings.DEMO_MODE = True
    call_command("seed_demo_staff")
    call_command("seed_demo_staff")  # idempotent
    expected = {  # screen -> who may open it
        "/messaging/": {"frontdesk", "msgadmin"},
        "/messaging/history/": {"frontdesk", "clinician", "privacy", "msgadmin"},
        "/bounces/do-not-send/": {"frontdesk", "privacy", "msgadmin"},
        "/admin/core/accesslog/": {"privacy"},
    }
    for username in ["frontdesk", "clinician", "privacy", "msgadmin"]:
        user = get_user_model().objects.get(username=username)
        assert user.check_password(DEMO_PASSWORD)
        client.force_login(user)
        for url, allowed in expected.items():
            status = client.get(url).status_code
            assert (status == 200) == (username in allowed), (username, url, status)
        client.logout()
    assert get_user_model().objects.get(username="msgadmin").has_perm("messaging.manage_templates")
