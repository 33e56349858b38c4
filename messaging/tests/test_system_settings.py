"""The numbered settings registry: every seed setting exists, is typed, validated and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from messaging.models import SystemSetting, SystemSettingChange
from messaging.services_settings import setting_update
from messaging.system_settings import REGISTRY, Kind, get_setting, parse_value

SEED_NUMBERS = {
    182,
    251,
    256,
    257,
    258,
    259,
    260,
    262,
    266,
    268,
    269,
    270,
    271,
    272,
    273,
    276,
    371,
    420,
    490,
    620,
    673,
    751,
    759,
    760,
    773,
    776,
    780,
}


# Settings the seed describes without a number, made editable in the admin (issue 12).
ADDED_NUMBERS = {267, 274}


def test_registry_has_every_seed_setting():
    assert set(REGISTRY) >= SEED_NUMBERS | ADDED_NUMBERS
    assert REGISTRY[258].name == "MESSAGING - EMAIL - Resend Interval"  # "Internal" fixed to Interval
    assert "Interval" in REGISTRY[759].name


@pytest.mark.parametrize("number", sorted(SEED_NUMBERS | ADDED_NUMBERS))
def test_defaults_are_valid(number):
    definition = REGISTRY[number]
    parse_value(definition, definition.default)


@pytest.mark.parametrize(
    ("number", "raw", "expected"),
    [
        (251, "3", 3),
        (259, "No", False),
        (259, "yes", True),
        (270, "20:30", dt.time(20, 30)),
        (269, "(617) 555-0100", "+16175550100"),
        (276, "front@example.org", "front@example.org"),
        (420, "8", 8),
    ],
)
def test_parse_valid(number, raw, expected):
    assert parse_value(REGISTRY[number], raw) == expected


@pytest.mark.parametrize(
    ("number", "raw", "message"),
    [
        (251, "-1", "from 0 to 10"),
        (251, "eleven", "whole number"),
        (258, "0", "from 1 to 1440"),
        (270, "9pm", "HH:MM"),
        (259, "maybe", "yes or no"),
        (269, "12", "valid phone"),
        (276, "nobody@", "valid email"),
        (272, "", "required"),
    ],
)
def test_parse_invalid(number, raw, message):
    with pytest.raises(ValidationError) as excinfo:
        parse_value(REGISTRY[number], raw)
    assert message in " ".join(excinfo.value.messages).lower() or message in str(excinfo.value)


@pytest.mark.django_db
def test_rows_created_on_migrate_and_typed_accessor():
    assert SystemSetting.objects.count() == len(REGISTRY)
    assert get_setting(272) == dt.time(21, 0)
    assert get_setting(259) is True
    assert isinstance(get_setting(266), int)
    assert REGISTRY[266].kind is Kind.COUNT


@pytest.mark.django_db
def test_update_is_audited_and_invalid_never_saved(django_user_model):
    admin = django_user_model.objects.create_user("admin")
    setting_update(number=270, value="20:00", user=admin)
    assert get_setting(270) == dt.time(20, 0)
    change = SystemSettingChange.objects.get(number=270)
    assert (change.old_value, change.new_value, change.changed_by) == ("21:00", "20:00", admin)
    with pytest.raises(ValidationError):
        setting_update(number=270, value="25:00", user=admin)
    assert SystemSetting.objects.get(number=270).value == "20:00"
    assert SystemSettingChange.objects.filter(number=270).count() == 1


@pytest.mark.django_db
def test_admin_edit_validates_and_searches(admin_client):
    url = reverse("admin:messaging_systemsetting_change", args=[251])
    response = admin_client.post(url, {"value": "99"})
    assert response.status_code == 200
    assert "Enter a number from 0 to 10" in response.content.decode()
    assert SystemSetting.objects.get(number=251).value == "2"
    response = admin_client.post(url, {"value": "4"})
    assert response.status_code == 302
    assert get_setting(251) == 4
    listing = admin_client.get(reverse("admin:messaging_systemsetting_changelist"), {"q": "Stop Time"}).content.decode()
    assert "SMS - Stop Time" in listing and "Caller ID" not in listing
    by_number = admin_client.get(reverse("admin:messaging_systemsetting_changelist"), {"q": "269"}).content.decode()
    assert "Caller ID" in by_number
