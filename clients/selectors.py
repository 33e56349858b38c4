"""Reads about clients: the searchable client list, and the chart's change history and Messaging Contact
warning. (Which address a channel uses is messaging's business: ``messaging.addresses``.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from phonenumber_field.modelfields import PhoneNumberField

from clients.models import Client, MessagingContact, MessagingProfile
from core.phones import display_phone


def client_list(*, query: str = "") -> QuerySet[Client]:
    """Clients for Clients > Client Management, searched by name, phone, e-mail or id."""
    qs = Client.objects.select_related("messaging").order_by("last_name", "first_name", "id")
    query = query.strip()
    if not query:
        return qs
    filters = Q()
    for word in query.split():
        filters &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(preferred_name__icontains=word)
            | Q(email__icontains=word)
        )
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 4:
        filters |= Q(phone__contains=digits) | Q(cell_phone__contains=digits)
    if query.isdigit():
        filters |= Q(pk=int(query))
    return qs.filter(filters)


# --- The chart's Contacts tab --------------------------------------------------------------------------

# The alternate contact's audit rows are named "messaging_contact.<field>" (clients.services.ALTERNATE_PREFIX).
_ALTERNATE_PREFIX = "messaging_contact."
# Where a message can go: without any of these the Messaging Contact cannot be messaged.
MESSAGING_ADDRESS_FIELDS = ("cell_phone", "phone", "email", "fax")


@dataclass(frozen=True)
class ChangeRow:
    """One row of the chart's change history as staff read it: the field's label, phone numbers formatted."""

    changed_at: datetime
    label: str
    old_value: str
    new_value: str
    by: str


def audit_field_label(name: str) -> str:
    """An audited field's name as the chart labels it ("cell_phone" -> "Cell phone", "use_client_detail_info"
    -> "Use Client Detail Info."; the alternate contact's prefixed "Messaging Contact: ")."""
    prefix, model = "", Client
    if name.startswith(_ALTERNATE_PREFIX):
        prefix, model, name = "Messaging Contact: ", MessagingContact, name[len(_ALTERNATE_PREFIX) :]
    elif name in {f.name for f in MessagingProfile._meta.get_fields()} - {"id", "client"}:
        model = MessagingProfile
    try:
        label = str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # an audit row naming a field that no longer exists
        label = name.replace("_", " ")
    return prefix + label[:1].upper() + label[1:]


def _is_phone_field(name: str) -> bool:
    model, field = (
        (MessagingContact, name[len(_ALTERNATE_PREFIX) :]) if name.startswith(_ALTERNATE_PREFIX) else (Client, name)
    )
    try:
        return isinstance(model._meta.get_field(field), PhoneNumberField)
    except FieldDoesNotExist:
        return False


def contact_changes(client: Client, *, limit: int = 10) -> list[ChangeRow]:
    """The newest ``limit`` changes of the client's messaging profile and addresses, labelled for the chart."""
    rows = []
    for change in client.profile_changes.select_related("changed_by")[:limit]:
        shown = display_phone if _is_phone_field(change.field) else str
        by = change.changed_by.get_username() if change.changed_by is not None else change.source
        rows.append(
            ChangeRow(
                change.changed_at,
                audit_field_label(change.field),
                shown(change.old_value),
                shown(change.new_value),
                by,
            )
        )
    return rows


def messaging_contact_warning(profile: MessagingProfile, alternate: MessagingContact | None) -> str:
    """Why no message can reach the client, when Use Client Detail Info. is No and the Messaging Contact
    (where messages then go) has no phone, cell phone, e-mail or fax; "" otherwise."""
    if profile.use_client_detail_info:
        return ""
    if alternate is not None and any(str(getattr(alternate, f) or "") for f in MESSAGING_ADDRESS_FIELDS):
        return ""
    missing = (
        "no Messaging Contact is entered"
        if alternate is None
        else "the Messaging Contact has no cell phone, phone, e-mail or fax"
    )
    return (
        "Use Client Detail Info. is No, so messages go to the Messaging "
        f"Contact, and {missing}. Enter the contact's number or e-mail with the Messaging Contact button, or set "
        "Use Client Detail Info. to Yes."
    )
