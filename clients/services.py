"""Writes to client data, with an audit row (``ProfileChange``) for every change of the messaging profile
and of every address a message goes to: the chart's phones, e-mail, fax and postal address, and the
alternate Messaging Contact's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
# Where PHI is sent: changing one is audited like consent (issue 13, row 8).
AUDITED_CONTACT_FIELDS = (
    "phone",
    "cell_phone",
    "email",
    "fax",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
)
# The alternate contact's (Messaging Contact) audit rows are named "messaging_contact.<field>".
ALTERNATE_PREFIX = "messaging_contact."
AUDITED_ALTERNATE_FIELDS = ("name", *AUDITED_CONTACT_FIELDS)


def _display(instance: Any, field: str) -> str:
    value = getattr(instance, field)
    if value is None:
        return ""
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


def snapshot(instance: Any | None, fields: Iterable[str]) -> dict[str, str] | None:
    """``fields`` of ``instance`` as the audit shows them (None: no such row)."""
    return None if instance is None else {field: _display(instance, field) for field in fields}


def changes_audit(
    *,
    client: Client,
    before: Mapping[str, str] | None,
    after: Any | None,
    fields: Iterable[str],
    user: AbstractBaseUser | None,
    source: str = "staff",
    prefix: str = "",
) -> list[ProfileChange]:
    """One ``ProfileChange`` for each of ``fields`` that differs between ``before`` (``snapshot`` taken
    before the save; None: the row was created) and ``after`` (the saved row; None: deleted). A change
    of consent also stamps the profile's consent_changed_at / _by, as ``messaging_profile_update`` does."""
    fields = tuple(fields)
    old, new = before or dict.fromkeys(fields, ""), snapshot(after, fields) or dict.fromkeys(fields, "")
    by = user if user is not None and user.is_authenticated else None
    now = timezone.now()
    audit = [
        ProfileChange(
            client=client,
            field=f"{prefix}{field}",
            old_value=old[field][:255],
            new_value=new[field][:255],
            changed_by=by,
            source=source,
            changed_at=now,
        )
        for field in fields
        if old[field] != new[field]
    ]
    ProfileChange.objects.bulk_create(audit)
    if isinstance(after, MessagingProfile) and any(c.field == "consent_given" for c in audit):
        MessagingProfile.objects.filter(pk=after.pk).update(consent_changed_at=now, consent_changed_by=by)
    return audit


@transaction.atomic
def client_contact_update(
    *, client: Client, data: Mapping[str, Any], user: AbstractBaseUser | None, source: str = "staff"
) -> Client:
    """The chart's basic contact information: apply ``data``; audit every changed address field."""
    before = snapshot(Client.objects.select_for_update().get(pk=client.pk), AUDITED_CONTACT_FIELDS)
    for field, value in data.items():
        setattr(client, field, value)
    client.save()
    changes_audit(client=client, before=before, after=client, fields=AUDITED_CONTACT_FIELDS, user=user, source=source)
    return client


@transaction.atomic
def messaging_contact_update(
    *, client: Client, data: Mapping[str, Any], user: AbstractBaseUser | None
) -> MessagingContact:
    """The Messaging Contact button: apply ``data`` to the alternate contact; audit every changed field."""
    contact = MessagingContact.objects.select_for_update().filter(client=client).first()
    before = snapshot(contact, AUDITED_ALTERNATE_FIELDS)
    if contact is None:
        contact = MessagingContact(client=client)
    for field, value in data.items():
        setattr(contact, field, value)
    contact.save()
    changes_audit(
        client=client,
        before=before,
        after=contact,
        fields=AUDITED_ALTERNATE_FIELDS,
        user=user,
        prefix=ALTERNATE_PREFIX,
    )
    return contact
