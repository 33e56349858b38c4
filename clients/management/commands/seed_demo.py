"""Create a realistic demo practice (idempotent): clinicians, ~200 clients, appointments, staff renewals.

Phone numbers are fictional 555-01xx/555-xxxx numbers; some end in the simulator's outcome
suffixes (see messaging/simulators) so the demo shows soft and hard failures, and some e-mail
addresses trigger the SMTP simulator's bounces.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from clients.models import (
    Appointment,
    AppointmentStatus,
    Client,
    ContactMethod,
    MessagingContact,
    MessagingProfile,
    StaffProfile,
    VoicemailChoice,
)

FIRST = [
    "Ava",
    "Liam",
    "Maya",
    "Noah",
    "Zoe",
    "Ethan",
    "Isla",
    "Mateo",
    "Chloe",
    "Lucas",
    "Aria",
    "Elijah",
    "Nora",
    "Caleb",
    "Layla",
    "Owen",
    "Ruby",
    "Miles",
    "Hazel",
    "Leo",
    "Sofia",
    "Jonah",
    "Ivy",
    "Ezra",
    "Lena",
    "Kai",
    "Grace",
    "Omar",
    "Priya",
    "Dmitri",
    "Yuki",
    "Amara",
    "Tomás",
    "Fatima",
    "Wei",
    "Nadia",
]
LAST = [
    "Garcia",
    "Nguyen",
    "Smith",
    "Johnson",
    "Patel",
    "Kim",
    "Okafor",
    "Rossi",
    "Cohen",
    "Silva",
    "Brown",
    "Lee",
    "Martinez",
    "Davis",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
]
ZONES = [
    "America/New_York",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "",
]
AREA = ["212", "312", "415", "617", "303", "602", "404", "206"]
CLINICIANS = [
    ("dr.hart", "Elena", "Hart", "PhD", "Psychologist licence"),
    ("j.osei", "Joseph", "Osei", "LCSW", "LCSW licence"),
    ("m.reyes", "Marisol", "Reyes", "LPC", "LPC licence"),
    ("a.chen", "Andrew", "Chen", "MD", "Medical licence"),
]
# Simulator outcome suffixes (see messaging/simulators): a few clients hit each one.
FAILING_SUFFIXES = ["0001", "0002", "0003", "0011", "0012", "0021", "0023"]
BOUNCING_EMAILS = [
    "hard-bounce@example.org",
    "mailbox-full@example.org",
    "someone@nonexistent.example",
    "spam-block@example.org",
]


def _phone(rng: random.Random, i: int) -> str:
    if i % 29 == 0:
        return f"+1{rng.choice(AREA)}555{FAILING_SUFFIXES[(i // 29) % len(FAILING_SUFFIXES)]}"
    return f"+1{rng.choice(AREA)}555{rng.randint(1100, 9999):04d}"


class Command(BaseCommand):
    help = "Create demo data (idempotent): user demo/demo, clinicians, ~200 clients, appointments."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--clients", type=int, default=200)
        parser.add_argument(
            "--no-superuser",
            action="store_true",
            help="Do not create the demo/demo superuser (required outside demo mode).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_superuser"] and not settings.DEMO_MODE:
            raise CommandError(
                "seed_demo creates the demo/demo superuser only in demo mode (PIMSY_DEMO=1; make demo sets it). "
                "Outside demo mode use --no-superuser, and createsuperuser for a real administrator."
            )
        if not options["no_superuser"]:
            self._demo_user()
        clinicians = self._clinicians()
        if Client.objects.exists():
            self.stdout.write("Demo clients already exist; nothing more to create.")
            return
        rng = random.Random(20261129)  # deterministic: the same practice every time
        clients = [self._client(rng, i) for i in range(options["clients"])]
        self._appointments(rng, clients, clinicians)
        self.stdout.write(self.style.SUCCESS(f"Created {len(clients)} clients and their appointments."))

    def _demo_user(self) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username="demo", defaults={"first_name": "Demo", "last_name": "Admin", "email": "demo@example.org"}
        )
        if created:
            user.is_staff = user.is_superuser = True
            user.set_password("demo")
            user.save()
        group, _ = Group.objects.get_or_create(name="Front desk")
        codenames = [
            "view_client",
            "change_client",
            "change_messagingprofile",
            "view_appointment",
            "send_messages",
            "view_history",
            "view_donotsendentry",
            "add_donotsendentry",
            "change_donotsendentry",
        ]
        group.permissions.set(Permission.objects.filter(codename__in=codenames))

    def _clinicians(self) -> list[Any]:
        User = get_user_model()
        today = timezone.localdate()
        result = []
        for i, (username, first, last, creds, licence) in enumerate(CLINICIANS):
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username.replace('.', '')}@example.org"},
            )
            if created:
                user.set_unusable_password()
                user.save()
            StaffProfile.objects.get_or_create(
                user=user,
                defaults={
                    "display_name": f"{first} {last}, {creds}",
                    "credentials": creds,
                    "is_clinician": True,
                    "cell_phone": f"+1617555{2100 + i:04d}",
                    "licence_name": licence,
                    "licence_renewal_date": today + dt.timedelta(days=10 + 40 * i),
                    "credential_name": "CPR certification",
                    "credential_renewal_date": today + dt.timedelta(days=25 + 60 * i),
                },
            )
            result.append(user)
        return result

    def _client(self, rng: random.Random, i: int) -> Client:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        has_email = i % 7 != 3
        email = (
            BOUNCING_EMAILS[(i // 41) % len(BOUNCING_EMAILS)]
            if i % 41 == 5
            else (f"{first.lower()}.{last.lower()}{i}@example.org" if has_email else "")
        )
        client = Client.objects.create(
            first_name=first,
            last_name=last,
            date_of_birth=dt.date(1950 + rng.randint(0, 55), rng.randint(1, 12), rng.randint(1, 28)),
            phone=_phone(rng, i + 1) if i % 3 == 0 else "",
            cell_phone="" if i % 17 == 4 else _phone(rng, i),
            email=email,
            fax=f"+1{rng.choice(AREA)}555{3000 + i:04d}" if i % 13 == 0 else "",
            address_line1=f"{rng.randint(10, 999)} {rng.choice(['Oak', 'Maple', 'Elm', 'River', 'Hill'])} St",
            city=rng.choice(["Springfield", "Riverton", "Fairview", "Madison"]),
            state="MA",
            postal_code=f"0{rng.randint(1000, 2799)}",
            time_zone=rng.choice(ZONES),
            preferred_language="es" if i % 9 == 2 else "en",
            part2_diagnosis=i % 23 == 7,
        )
        methods = [
            ContactMethod.TEXT,
            ContactMethod.TEXT,
            ContactMethod.EMAIL,
            ContactMethod.CELL,
            ContactMethod.PHONE,
            ContactMethod.FAX,
            ContactMethod.MAIL,
        ]
        use_detail = i % 11 != 6
        MessagingProfile.objects.create(
            client=client,
            consent_given=i % 8 != 1,  # about one in eight has not consented
            consent_changed_at=timezone.now() - dt.timedelta(days=rng.randint(1, 400)),
            preferred_contact_method=methods[i % len(methods)],
            use_client_detail_info=use_detail,
            voicemail_ok=(VoicemailChoice.CLINIC_DEFAULT, VoicemailChoice.YES, VoicemailChoice.NO)[i % 3],
        )
        if not use_detail:
            MessagingContact.objects.create(
                client=client,
                name=f"{rng.choice(FIRST)} {last}",
                relationship=rng.choice(["Parent", "Spouse", "Guardian"]),
                cell_phone=_phone(rng, i + 500),
                email=f"family.{last.lower()}{i}@example.org",
            )
        return client

    def _appointments(self, rng: random.Random, clients: list[Client], clinicians: list[Any]) -> None:
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        rows = []
        for i, client in enumerate(clients):
            for k in range(1 + i % 3):
                start = now + dt.timedelta(days=rng.randint(-10, 28), hours=rng.randint(-4, 6))
                start = start.replace(hour=rng.choice([13, 14, 15, 16, 17, 18, 19, 20, 21]))
                telehealth = (i + k) % 4 == 0
                status = AppointmentStatus.COMPLETED if start < now else AppointmentStatus.SCHEDULED
                if (i + k) % 19 == 0:
                    status = AppointmentStatus.CANCELLED
                rows.append(
                    Appointment(
                        client=client,
                        clinician=clinicians[(i + k) % len(clinicians)],
                        start=start,
                        end=start + dt.timedelta(minutes=50),
                        status=status,
                        location="" if telehealth else "Main clinic, 2nd floor",
                        is_telehealth=telehealth,
                        meeting_link=f"https://8x8.vc/demo-practice/visit-{i}-{k}" if telehealth else "",
                        is_initial=k == 0 and i % 10 == 0,
                    )
                )
        Appointment.objects.bulk_create(rows)
