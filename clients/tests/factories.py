"""Small builders for client test data (plain functions; no factory library needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from clients.models import Appointment, Client, ContactMethod, MessagingContact, MessagingProfile

_counter = {"n": 0}


def make_client(
    *,
    consent: bool = True,
    preferred: str = ContactMethod.TEXT,
    use_detail: bool = True,
    alternate: dict[str, Any] | None = None,
    profile: bool = True,
    **fields: Any,
) -> Client:
    _counter["n"] += 1
    n = _counter["n"]
    defaults: dict[str, Any] = {
        "first_name": f"Client{n}",
        "last_name": "Test",
        "cell_phone": f"+1617555{1000 + n:04d}",
        "phone": f"+1617555{5000 + n:04d}",
        "email": f"client{n}@example.org",
        "fax": f"+1617555{8000 + n:04d}",
    }
    defaults.update(fields)
    client = Client.objects.create(**defaults)
    if profile:
        MessagingProfile.objects.create(
            client=client, consent_given=consent, preferred_contact_method=preferred, use_client_detail_info=use_detail
        )
    if alternate is not None:
        MessagingContact.objects.create(client=client, **alternate)
    return client


def make_clinician(username: str = "clinician") -> Any:
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"first_name": "Dana", "last_name": "Doe"})
    return user


def make_appointment(client: Client, *, start: dt.datetime | None = None, **fields: Any) -> Appointment:
    start = start or timezone.now() + dt.timedelta(days=2)
    return Appointment.objects.create(
        client=client,
        clinician=fields.pop("clinician", None) or make_clinician(),
        start=start,
        end=start + dt.timedelta(minutes=50),
        **fields,
    )
