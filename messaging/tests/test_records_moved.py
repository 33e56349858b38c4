"""AppointmentReply, AutomationRule and PortalMessageRead moved from clients to messaging (issue 11)
without touching their tables; permissions granted on them before the move still hold after it."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from messaging.models import AppointmentReply, AutomationRule, PortalMessageRead

moved = importlib.import_module("messaging.migrations.0014_records_from_clients")

pytestmark = pytest.mark.django_db


def test_the_tables_keep_the_names_the_clients_app_gave_them():
    assert [m._meta.db_table for m in (AppointmentReply, AutomationRule, PortalMessageRead)] == [
        "clients_appointmentreply",
        "clients_automationrule",
        "clients_portalmessageread",
    ]
    assert {m._meta.app_label for m in (AppointmentReply, AutomationRule, PortalMessageRead)} == {"messaging"}


def test_a_permission_granted_under_clients_is_relabelled_with_its_content_type():
    ContentType.objects.filter(app_label="messaging", model__in=moved.MOVED).delete()
    old = ContentType.objects.create(app_label="clients", model="appointmentreply")
    permission = Permission.objects.create(content_type=old, codename="change_appointmentreply", name="Can change")
    group = Group.objects.create(name="Replies")
    group.permissions.add(permission)

    moved.relabel(apps, None)

    [label] = [f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()]
    assert label == "messaging.change_appointmentreply"
    moved.relabel_back(apps, None)
    assert ContentType.objects.get(pk=old.pk).app_label == "clients"


def test_an_existing_messaging_content_type_is_left_alone():
    ContentType.objects.get_or_create(app_label="messaging", model="automationrule")
    stale = ContentType.objects.create(app_label="clients", model="automationrule")
    moved.relabel(apps, None)
    assert ContentType.objects.get(pk=stale.pk).app_label == "clients"
