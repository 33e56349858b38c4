"""History's CSV export: formulas are neutralised, phone numbers are not (issue 13, row 12)."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from messaging.history import _csv_safe
from messaging.models import Broadcast, Delivery, MessageType, Status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("phone", ["+13035550123", "+442079460958", "+61412345678"])
def test_a_phone_number_in_e164_is_exported_as_it_is(phone):
    assert _csv_safe(phone) == phone


@pytest.mark.parametrize(
    "formula",
    [
        "=HYPERLINK(evil)",
        "+1+cmd|' /C calc'!A0",
        "+13035550123+1",
        "+1303555012A",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "+",
        "+1",  # too short for a phone number
    ],
)
def test_anything_else_starting_like_a_formula_is_neutralised(formula):
    assert _csv_safe(formula) == "'" + formula


def test_the_export_keeps_phone_numbers_and_neutralises_names(client, django_user_model):
    user = django_user_model.objects.create_user("exporter")
    user.user_permissions.set(Permission.objects.filter(codename="view_history"))
    client.force_login(user)
    message_type = MessageType.objects.get(code="client-upcoming-appointment")
    broadcast = Broadcast.objects.create(
        message_type=message_type, broadcast_at=timezone.now(), created_by=user, channels=["sms"]
    )
    Delivery.objects.create(
        broadcast=broadcast,
        message_type=message_type,
        channel="sms",
        recipient_name="=HYPERLINK(evil)",
        address="+13035550123",
        status=Status.QUEUED,
    )
    response = client.get(reverse("messaging:history-export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["Recipient"], r["Address"]) for r in rows] == [("'=HYPERLINK(evil)", "+13035550123")]
