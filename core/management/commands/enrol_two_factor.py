"""Set up a user's authenticator app from the server: how a superuser gets two-factor sign-in where it is
required (production). The key is printed here, for the administrator to hand over in person; the
sign-in page never shows it to a superuser, so a stolen password alone cannot set up an app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

DEVICE_NAME = "Authenticator app"


class Command(BaseCommand):
    help = "Print a new authenticator-app key for a user; they confirm it with a code at /accounts/two-factor/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--qr", metavar="FILE.svg", help="also write the key as a QR code to this file")
        parser.add_argument(
            "--replace", action="store_true", help="remove the user's current app first (a lost or new phone)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user is called {options['username']!r}.")
        with transaction.atomic():
            confirmed = TOTPDevice.objects.filter(user=user, confirmed=True)
            if confirmed.exists() and not options["replace"]:
                raise CommandError("This user has an app already; add --replace to set up a new one instead.")
            TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
        secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
        if options["qr"]:
            with open(options["qr"], "wb") as out:
                write_qrcode_image(device.config_url, out)
        self.stdout.write(
            f"Key for {user.get_username()} (type it into the app, or scan the QR code):\n"
            f"  {' '.join(secret[i : i + 4] for i in range(0, len(secret), 4))}\n"
            f"  {device.config_url}\n"
            "They then sign in and enter the app's code at /accounts/two-factor/ to turn it on."
        )
