"""Writes to client data, with an audit row for every messaging-profile change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Client, MessagingContact, MessagingProfile, ProfileChange

AUDITED_PROFILE_FIELDS = (
    "consent_given",
    "preferred_contact_method",
    "use_client_detail_info",
    "voicemail_ok",
    "sms_opted_out",
)


def _display(instance: Any, field: str) -> str:
    value = getattr(instance, field)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    getter = getattr(instance, f"get_{field}_display", None)
    return str(getter() if getter else value)


@transaction.atomic
def sms_opted_out_set(*, phone: str, opted_out: bool, evidence: str = "") -> int:
    """A STOP (or START) reply from ``phone``: every client with it as cell phone, on the chart or the
    alternate contact, is marked (or cleared) "Replied STOP to texts", audited with source
    "sms-keyword". Returns how many clients changed."""
    clients = Client.objects.filter(Q(cell_phone=phone) | Q(messaging_contact__cell_phone=phone)).distinct()
    for client in clients:
        messaging_profile_update(
            client=client, changes={"sms_opted_out": opted_out}, user=None, source="sms-keyword", evidence=evidence
        )
    return len(clients)


@transaction.atomic
def messaging_profile_update(
    *,
    client: Client,
    changes: dict[str, Any],
    user: AbstractBaseUser | None,
    source: str = "staff",
    evidence: str = "",
) -> MessagingProfile:
    """Apply ``changes`` to the client's messaging profile; record who changed what, and when."""
    profile, _ = MessagingProfile.objects.select_for_update().get_or_create(client=client)
    now = timezone.now()
    audit: list[ProfileChange] = []
    for field, new in changes.items():
        if field not in AUDITED_PROFILE_FIELDS:
            raise ValueError(f"{field} is not a messaging-profile field")
        if getattr(profile, field) == new:
            continue
        old_text = _display(profile, field)
        setattr(profile, field, new)
        audit.append(
            ProfileChange(
                client=client,
                field=field,
                old_value=old_text,
                new_value=_display(profile, field),
                changed_by=user if user is not None and user.is_authenticated else None,
                source=source,
                evidence=evidence[:255],
                changed_at=now,
            )
        )
        if field == "consent_given":
            profile.consent_changed_at = now
            profile.consent_changed_by = user if user is not None and user.is_authenticated else None
    if audit:
        profile.save()
        ProfileChange.objects.bulk_create(audit)
    return profile


def messaging_contact_update(
    *, client: Client, data: dict[str, Any], user: AbstractBaseUser | None
) -> MessagingContact:
    contact, _ = MessagingContact.objects.get_or_create(client=client)
    for field, value in data.items():
        setattr(contact, field, value)
    contact.save()
    ProfileChange.objects.create(
        client=client,
        field="messaging_contact",
        new_value="updated",
        changed_by=user if user is not None and user.is_authenticated else None,
    )
    return contact
