"""Audit rows stay as written (issue 13, row 8): profile and settings changes are read-only in the admin and
cannot be deleted (one by one or in bulk); a broadcast is read-only but its description, and neither it nor
its deliveries, their provider events or the replies that came in can be deleted; Django's own admin log is
viewable, read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, ProfileChange
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


def test_a_broadcast_is_read_only_in_the_admin_but_its_description(admin_client: Any, django_user_model: Any) -> None:
    """Who sent it, when, what and how stay as recorded (only History's label can be corrected); a
    broadcast is neither added nor deleted there: deleting one would delete its deliveries."""
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
    assert set(form.fields) == {"description"}
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
    assert broadcast.description == "Closed Tuesday"  # the label can be corrected
    assert (broadcast.created_by, broadcast.created_at) == (sender, created)
    assert (broadcast.broadcast_at, broadcast.channels, broadcast.state) == (created, [], "active")
    assert admin_client.get(reverse("admin:messaging_broadcast_add")).status_code == 403
    assert admin_client.get(reverse("admin:messaging_broadcast_delete", args=[broadcast.pk])).status_code == 403
    assert Broadcast.objects.filter(pk=broadcast.pk).exists()


def test_what_was_sent_and_heard_back_cannot_be_deleted_or_edited_in_the_admin(admin_client: Any) -> None:
    """The record of a delivery, the provider's events about it and the replies that came in: readable
    in the admin, never deleted (a delete would cascade) or edited there."""
    from bounces.tests.deliveries import make_delivery
    from messaging.models import Delivery, InboundMessage, ProviderEvent

    delivery = make_delivery()
    event = ProviderEvent.objects.create(
        provider="twilio", event_id="SM1:delivered", event_type="status", delivery=delivery
    )
    inbound = InboundMessage.objects.create(
        provider_message_id="SMin1", from_number="+15555550100", body="C", keyword="C"
    )
    for name, obj in (("delivery", delivery), ("providerevent", event), ("inboundmessage", inbound)):
        assert admin_client.get(reverse(f"admin:messaging_{name}_delete", args=[obj.pk])).status_code == 403
        changelist = admin_client.get(reverse(f"admin:messaging_{name}_changelist"))
        assert changelist.status_code == 200 and b"delete_selected" not in changelist.content
    before = ProviderEvent.objects.get(pk=event.pk).status
    admin_client.post(reverse("admin:messaging_providerevent_change", args=[event.pk]), {"status": "failed"})
    assert ProviderEvent.objects.get(pk=event.pk).status == before
    assert Delivery.objects.filter(pk=delivery.pk).exists() and InboundMessage.objects.filter(pk=inbound.pk).exists()


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


def test_deleting_a_client_would_take_the_messages_sent_so_the_admin_refuses(admin_client: Any) -> None:
    """As with audit rows (above): the deliveries can't be deleted in the admin, so neither can their client,
    one by one or in bulk. A client entered by mistake, with no record, can still be deleted."""
    from bounces.tests.deliveries import make_delivery

    messaged = make_client(first_name="Messaged")
    make_delivery(client=messaged)
    mistaken = make_client(first_name="Mistaken")
    url = reverse("admin:clients_client_delete", args=[messaged.pk])
    page = admin_client.get(url).content.decode()
    assert "permission to delete" in page and "deliver" in page
    admin_client.post(url, {"post": "yes"})
    bulk = {"action": "delete_selected", "_selected_action": [messaged.pk], "post": "yes"}
    admin_client.post(reverse("admin:clients_client_changelist"), bulk)
    admin_client.post(reverse("admin:clients_client_delete", args=[mistaken.pk]), {"post": "yes"})
    assert list(Client.objects.values_list("first_name", flat=True)) == ["Messaged"]
    assert messaged.deliveries.exists()
