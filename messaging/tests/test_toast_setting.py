"""Setting 420 (MESSAGE BOX - Minimum Time to Disappear) reaches every staff page's toasts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.services_settings import setting_update

pytestmark = pytest.mark.django_db


def test_toast_minimum_time_follows_setting_420(client, staff_user):
    client.force_login(staff_user)
    assert 'data-toast-seconds="5"' in client.get(reverse("home")).content.decode()
    setting_update(number=420, value="12")
    assert 'data-toast-seconds="12"' in client.get(reverse("clients:list")).content.decode()
