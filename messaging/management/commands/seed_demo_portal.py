"""Demo only: switch the client portal on (setting 620) and give three demo clients a portal login.

`make demo` runs it after `seed_demo`. Refuses outside demo mode: it creates known passwords.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clients.models import Client, PortalAccount
from messaging.services_settings import setting_update

DEMO_PASSWORD = "portal-demo-2026"
LOGINS = 3


class Command(BaseCommand):
    help = "Demo mode: expose the client portal (setting 620) and create demo portal logins."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo_portal creates known portal passwords: only in demo mode (PIMSY_DEMO=1).")
        setting_update(number=620, value="yes")
        User = get_user_model()
        clients = Client.objects.filter(is_active=True, messaging__consent_given=True, portal_account__isnull=True)
        made = []
        for client in clients.order_by("id")[: max(0, LOGINS - PortalAccount.objects.count())]:
            username = f"{client.first_name}.{client.last_name}".lower().replace(" ", "")[:150]
            user, _ = User.objects.get_or_create(username=username, defaults={"email": client.email or ""})
            user.set_password(DEMO_PASSWORD)
            user.save()
            PortalAccount.objects.create(client=client, user=user)
            made.append(username)
        for account in PortalAccount.objects.select_related("user", "client").order_by("id")[:LOGINS]:
            self.stdout.write(f"  portal login: {account.user.username} / {DEMO_PASSWORD}  ({account.client})")
        self.stdout.write(self.style.SUCCESS(f"Client portal on (setting 620); {len(made)} new demo portal logins."))
