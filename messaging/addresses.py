"""Which address a channel uses for a client, or why there is none (the channel specs' address rules).

``contact_address_for`` reads the client's messaging profile (consent, STOP, Use Client Detail
Info.) and then the chart or the alternate Messaging Contact, in the order the channel's spec gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from clients.models import Client, MessagingContact, MessagingProfile
from messaging.channels.registry import channels_preferred_by, spec_for
from messaging.exclusions import Why


@dataclass(frozen=True)
class AddressChoice:
    """The address a channel would use for a client, or why there is none."""

    address: str = ""
    source: str = ""  # "chart" or "alternate"
    reason: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.address)


def pick(contact: Client | MessagingContact, channel: str, preferred: str) -> str:
    """The first filled field of the channel's address fields (numbers are formatted only when used:
    formatting validates the number, the send path's hot spot)."""
    spec = spec_for(channel)
    for name in spec.preferred_fields.get(preferred, spec.contact_fields):
        value = getattr(contact, name, "") or ""
        if value:
            return str(value)
    return ""


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
        return AddressChoice(reason=Why.NO_PROFILE)
    if check_consent and not profile.consent_given:
        return AddressChoice(reason=Why.NO_CONSENT)
    spec = spec_for(channel)
    if spec.opted_out_flag and getattr(profile, spec.opted_out_flag, False):
        return AddressChoice(reason=spec.opted_out_reason)
    if spec.address_field:  # the client's own (the portal login): never an alternate contact's
        address = str(getattr(client, spec.address_field, "") or "")
        return (
            AddressChoice(address=address, source="chart") if address else AddressChoice(reason=Why.no_address(channel))
        )
    if profile.use_client_detail_info:
        source, contact = "chart", client
    else:
        if alternate is None and _has_related(client, "messaging_contact"):
            alternate = client.messaging_contact
        if alternate is None:
            return AddressChoice(reason=Why.NO_ALTERNATE)
        source, contact = "alternate", alternate
    address = pick(contact, channel, profile.preferred_contact_method)
    if not address:
        return AddressChoice(reason=Why.no_address(channel), source=source)
    return AddressChoice(address=address, source=source)


def preference_allows(profile: MessagingProfile, channel: str) -> bool:
    return channel in channels_preferred_by(profile.preferred_contact_method)


def _has_related(obj: object, name: str) -> bool:
    try:
        getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return False
    return True
