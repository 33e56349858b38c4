"""Demo only: staff logins for the clinic's roles, so the demo is not tried as the superuser alone.

`make demo` runs it after `seed_demo`. Each role is a group with the permissions that job needs; README
lists the logins. Refuses outside demo mode: it creates known passwords.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

FRONT_DESK = [
    "clients.view_client",
    "clients.change_client",
    "clients.change_messagingprofile",
    "clients.view_appointment",
    "messaging.send_messages",
    "messaging.view_history",
    "bounces.view_donotsendentry",
    "bounces.add_donotsendentry",
    "bounces.change_donotsendentry",
]
# (group, permissions, username, first and last name, is_staff: may open Administration)
ROLES: list[tuple[str, list[str], str, str, str, bool]] = [
    ("Front desk", FRONT_DESK, "frontdesk", "Fran", "Desk", False),
    (
        "Clinician",
        ["clients.view_client", "clients.view_appointment", "messaging.view_history"],
        "clinician",
        "Cleo",
        "Nguyen",
        False,
    ),
    (
        "Privacy officer",
        [
            "clients.view_client",
            "clients.view_profilechange",
            "messaging.view_history",
            "bounces.view_donotsendentry",
            "core.view_accesslog",
        ],
        "privacy",
        "Pat",
        "Privacy",
        True,
    ),
    (
        "Messaging administrator",
        [*FRONT_DESK, "messaging.manage_templates", "messaging.hold_automated", "messaging.cancel_any_broadcast"],
        "msgadmin",
        "Max",
        "Admin",
        False,
    ),
]
DEMO_PASSWORD = "staff-demo-2026"


def _permissions(names: list[str]) -> list[Permission]:
    found = []
    for name in names:
        app_label, codename = name.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


class Command(BaseCommand):
    help = "Demo mode: a login per clinic role (front desk, clinician, privacy officer, messaging administrator)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo_staff creates known passwords: only in demo mode (PIMSY_DEMO=1).")
        User = get_user_model()
        for group_name, names, username, first, last, is_staff in ROLES:
            group, _ = Group.objects.get_or_create(name=group_name)
            group.permissions.set(_permissions(names))
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
            user.is_staff = is_staff
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.set([group])
            self.stdout.write(f"  staff login: {username} / {DEMO_PASSWORD}  ({group_name})")
        self.stdout.write(self.style.SUCCESS(f"{len(ROLES)} demo staff logins, one per role."))
