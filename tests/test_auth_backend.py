"""OneQueryPermissionsBackend answers exactly as Django's ModelBackend, with one query."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pimsy_messaging.auth_backends import OneQueryPermissionsBackend

pytestmark = pytest.mark.django_db


def perm(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # no per-request caches


@pytest.mark.parametrize("case", ["own", "group", "both", "none", "inactive", "superuser"])
def test_same_answers_as_model_backend(case):
    user = get_user_model().objects.create_user(f"u-{case}", password="x")
    group = Group.objects.create(name=f"g-{case}")
    group.permissions.add(perm("view_history"))
    if case in ("own", "both", "inactive"):
        user.user_permissions.add(perm("send_messages"))
    if case in ("group", "both", "inactive"):
        user.groups.add(group)
    if case == "inactive":
        user.is_active = False
    if case == "superuser":
        user.is_superuser = True
    user.save()
    ours, django = OneQueryPermissionsBackend(), ModelBackend()
    a, b = fresh(user), fresh(user)
    assert ours.get_user_permissions(a) == django.get_user_permissions(b)
    assert ours.get_group_permissions(a) == django.get_group_permissions(b)
    assert ours.get_all_permissions(a) == django.get_all_permissions(b)
    for name in ("messaging.view_history", "messaging.send_messages", "clients.view_client"):
        assert ours.has_perm(fresh(user), name) == django.has_perm(fresh(user), name)


def test_anonymous_has_nothing():
    assert OneQueryPermissionsBackend().get_all_permissions(AnonymousUser()) == set()


def test_several_checks_cost_one_query():
    user = get_user_model().objects.create_user("checker", password="x")
    user.user_permissions.add(perm("view_history"))
    group = Group.objects.create(name="senders")
    group.permissions.add(perm("send_messages"))
    user.groups.add(group)
    user = fresh(user)
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("messaging.view_history")
        assert user.has_perm("messaging.send_messages")
        assert not user.has_perm("clients.delete_client")
    assert len(queries) == 1


def test_a_revoked_permission_is_refused_on_the_next_request(client):
    user = get_user_model().objects.create_user("revoked", password="x")
    user.user_permissions.add(perm("view_history"))
    client.force_login(user)
    assert client.get("/messaging/history/").status_code == 200
    user.user_permissions.clear()
    assert client.get("/messaging/history/").status_code == 403


def test_the_user_comes_with_their_portal_account_in_the_same_query():
    """The staff pages ask on every request whether a client signed in (pimsy_messaging.middleware)."""
    from clients.models import PortalAccount
    from clients.tests.factories import make_client

    staff = get_user_model().objects.create_user("staff-user", password="x")
    client_user = get_user_model().objects.create_user("client-user", password="x")
    account = PortalAccount.objects.create(client=make_client(), user=client_user)
    backend = OneQueryPermissionsBackend()
    with CaptureQueriesContext(connection) as queries:
        loaded_staff, loaded_client = backend.get_user(staff.pk), backend.get_user(client_user.pk)
        assert not hasattr(loaded_staff, "portal_account")  # known to have none, without asking again
        assert loaded_client.portal_account == account
    assert len(queries) == 2
    assert backend.get_user(10**9) is None
