"""Audit rows stay as written (issue 13, row 8): profile and settings changes are read-only in the admin and
cannot be deleted (one by one or in bulk); a broadcast's creator and creation time cannot be rewritten;
Django's own admin log is viewable, read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from clients.models import ProfileChange
from clients.services import messaging_profile_update
from clients.tests.factories import make_client
from messaging.models import Broadcast, MessageType, SystemSettingChange
from messaging.services_settings import setting_update

pytestmark = pytest.mark.django_db


def bulk_delete(admin_client: Any, changelist: str, pks: list[int]) -> None:
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": pks, "post": "yes"})


def assert_undeletable(admin_client: Any, model: type, admin_name: str) -> None:
    rows = list(model.objects.all())
    assert rows
    changelist = reverse(f"admin:{admin_name}_changelist")
    listing = admin_client.get(changelist)
    assert listing.status_code == 200 and "delete_selected" not in listing.content.decode()
    assert admin_client.get(reverse(f"admin:{admin_name}_delete", args=[rows[0].pk])).status_code == 403
    admin_client.post(reverse(f"admin:{admin_name}_delete", args=[rows[0].pk]), {"post": "yes"})
    bulk_delete(admin_client, changelist, [r.pk for r in rows])
    assert model.objects.count() == len(rows)
    assert admin_client.get(reverse(f"admin:{admin_name}_add")).status_code == 403


def test_profile_changes_cannot_be_deleted_or_edited(admin_client: Any, admin_user: Any) -> None:
    patient = make_client(consent=False)
    messaging_profile_update(client=patient, changes={"consent_given": True}, user=admin_user)
    assert_undeletable(admin_client, ProfileChange, "clients_profilechange")
    change = ProfileChange.objects.get()
    admin_client.post(reverse("admin:clients_profilechange_change", args=[change.pk]), {"new_value": "No"})
    change.refresh_from_db()
    assert change.new_value == "Yes"


def test_setting_changes_cannot_be_deleted_or_edited(admin_client: Any, admin_user: Any) -> None:
    setting_update(number=270, value="20:00", user=admin_user)
    assert_undeletable(admin_client, SystemSettingChange, "messaging_systemsettingchange")
    change = SystemSettingChange.objects.get()
    url = reverse("admin:messaging_systemsettingchange_change", args=[change.pk])
    admin_client.post(url, {"number": "270", "old_value": "x", "new_value": "y"})
    change.refresh_from_db()
    assert (change.old_value, change.new_value) == ("21:00", "20:00")


def test_a_broadcasts_creator_and_creation_time_are_read_only(admin_client: Any, django_user_model: Any) -> None:
    sender = django_user_model.objects.create_user("sender")
    other = django_user_model.objects.create_user("other")
    created = timezone.now().replace(microsecond=0)
    broadcast = Broadcast.objects.create(
        message_type=MessageType.objects.get(code="client-upcoming-appointment"),
        broadcast_at=created,
        created_by=sender,
        created_at=created,
        description="Closed Monday",
    )
    url = reverse("admin:messaging_broadcast_change", args=[broadcast.pk])
    form = admin_client.get(url).context["adminform"].form
    assert "created_by" not in form.fields and "created_at" not in form.fields
    data = {
        "message_type": str(broadcast.message_type_id),
        "description": "Closed Tuesday",
        "broadcast_at_0": created.date().isoformat(),
        "broadcast_at_1": "09:00:00",
        "channels": '["sms"]',
        "state": "active",
        "created_by": str(other.pk),
        "created_at_0": "2001-01-01",
        "created_at_1": "00:00:00",
    }
    admin_client.post(url, data)
    broadcast.refresh_from_db()
    assert broadcast.description == "Closed Tuesday"  # the rest still saves
    assert (broadcast.created_by, broadcast.created_at) == (sender, created)


def test_djangos_admin_log_is_viewable_and_read_only(admin_client: Any, admin_user: Any) -> None:
    patient = make_client(first_name="Logged")
    entry = LogEntry.objects.create(
        user=admin_user,
        content_type=ContentType.objects.get_for_model(patient),
        object_id=str(patient.pk),
        object_repr=f"client {patient.pk}",
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Email"]}}]',
    )
    listing = admin_client.get(reverse("admin:admin_logentry_changelist"))
    assert listing.status_code == 200 and f"client {patient.pk}" in listing.content.decode()
    assert admin_client.get(reverse("admin:admin_logentry_change", args=[entry.pk])).status_code == 200
    assert_undeletable(admin_client, LogEntry, "admin_logentry")
    admin_client.post(reverse("admin:admin_logentry_change", args=[entry.pk]), {"object_repr": "rewritten"})
    entry.refresh_from_db()
    assert entry.object_repr == f"client {patient.pk}"


def test_deleting_a_client_would_take_its_audit_rows_so_the_admin_refuses(admin_client: Any, admin_user: Any) -> None:
    patient = make_client(consent=False)
    messaging_profile_update(client=patient, changes={"consent_given": True}, user=admin_user)
    url = reverse("admin:clients_client_delete", args=[patient.pk])
    page = admin_client.get(url).content.decode()
    assert "permission to delete" in page and "profile change" in page
    admin_client.post(url, {"post": "yes"})
    assert ProfileChange.objects.filter(client=patient).exists()
