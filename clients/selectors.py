"""Reads about clients: which address a channel uses, and the searchable client list."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from clients.models import Client, ContactMethod, MessagingContact, MessagingProfile

# Channels are the values of messaging.models.Channel; kept as plain strings to avoid a cycle.
SMS, VOICE, EMAIL, FAX = "sms", "voice", "email", "fax"

# Which channel(s) each Preferred Contact Method means when "Only Send Based on Preferences" is on.
PREFERENCE_CHANNELS: dict[str, frozenset[str]] = {
    ContactMethod.TEXT: frozenset({SMS}),
    ContactMethod.EMAIL: frozenset({EMAIL}),
    ContactMethod.CELL: frozenset({VOICE}),
    ContactMethod.PHONE: frozenset({VOICE}),
    ContactMethod.FAX: frozenset({FAX}),
    ContactMethod.MAIL: frozenset(),
}


class Reason:
    """Exclusion reasons, worded as staff see them beside the recipient list."""

    NO_CONSENT = "No messaging consent"
    NO_PROFILE = "No messaging consent (profile not set up)"
    NO_ALTERNATE = "Use Client Detail Info. is No but no Messaging Contact is entered"
    SMS_STOPPED = "Replied STOP to texts"
    INACTIVE = "Client is inactive"

    @staticmethod
    def no_address(channel: str) -> str:
        what = {SMS: "cell phone number", VOICE: "phone number", EMAIL: "e-mail address", FAX: "fax number"}
        return f"No valid {what.get(channel, 'address')} for {channel_label(channel)}"


def channel_label(channel: str) -> str:
    return {SMS: "Text (SMS)", VOICE: "Voice", EMAIL: "Email", FAX: "Fax"}.get(channel, channel)


@dataclass(frozen=True)
class AddressChoice:
    """The address a channel would use for a client, or why there is none."""

    address: str = ""
    source: str = ""  # "chart" or "alternate"
    reason: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.address)


def _pick(contact: Client | MessagingContact, channel: str, preferred: str) -> str:
    # Numbers are formatted only when used (formatting validates the number: the send path's hot spot).
    if channel == SMS:
        return str(contact.cell_phone or "")
    if channel == VOICE:
        # A client who prefers Phone is called at home first; otherwise the cell phone first.
        if preferred == ContactMethod.PHONE:
            return str(contact.phone or contact.cell_phone or "")
        return str(contact.cell_phone or contact.phone or "")
    if channel == EMAIL:
        return contact.email or ""
    if channel == FAX:
        return str(contact.fax or "")
    raise ValueError(f"unknown channel {channel!r}")


def contact_address_for(
    client: Client,
    channel: str,
    *,
    profile: MessagingProfile | None = None,
    alternate: MessagingContact | None = None,
    check_consent: bool = True,
) -> AddressChoice:
    """Which address messaging uses for ``client`` on ``channel``, or the reason there is none.

    Pass ``profile``/``alternate`` when already loaded (bulk Refresh) to avoid queries; otherwise
    they are read from the client's relations.
    """
    if profile is None:
        profile = getattr(client, "messaging", None) if _has_related(client, "messaging") else None
    if profile is None:
        return AddressChoice(reason=Reason.NO_PROFILE)
    if check_consent and not profile.consent_given:
        return AddressChoice(reason=Reason.NO_CONSENT)
    if channel == SMS and profile.sms_opted_out:
        return AddressChoice(reason=Reason.SMS_STOPPED)
    if profile.use_client_detail_info:
        source, contact = "chart", client
    else:
        if alternate is None and _has_related(client, "messaging_contact"):
            alternate = client.messaging_contact
        if alternate is None:
            return AddressChoice(reason=Reason.NO_ALTERNATE)
        source, contact = "alternate", alternate
    address = _pick(contact, channel, profile.preferred_contact_method)
    if not address:
        return AddressChoice(reason=Reason.no_address(channel), source=source)
    return AddressChoice(address=address, source=source)


def preference_allows(profile: MessagingProfile, channel: str) -> bool:
    return channel in PREFERENCE_CHANNELS.get(profile.preferred_contact_method, frozenset())


def _has_related(obj: object, name: str) -> bool:
    try:
        getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return False
    return True


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
