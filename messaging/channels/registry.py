"""The channel registry: everything the rest of messaging knows about a channel, in one place.

Each channel is a package under ``messaging/channels/`` whose ``spec.py`` defines ``SPEC``, a
:class:`ChannelSpec`; :data:`PACKAGES` lists the packages in the order staff see the channels (the
New tab, previews, History's filter). Choices, labels, address rules, stop times, retry settings,
rate limits, webhook URLs and previews are all read from here, so adding a channel is one package,
one entry in :data:`PACKAGES` and a migration (the ``channel`` fields' choices change).

This module and the ``spec`` modules import no models: ``messaging.models`` builds ``Channel`` from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module

PACKAGES: tuple[str, ...] = ("voice", "sms", "email", "fax")


@dataclass(frozen=True)
class ChannelSpec:
    """What one channel is, how it finds its address, and which settings govern it."""

    kind: str  # the stored value (Delivery.channel)
    label: str  # what staff read: "Text (SMS)"
    send_label: str  # the New tab's Contact Methods: "Send Text Message"
    transport: str  # dotted path of its Transport class
    address_kind: str  # "phone", "email" or "portal" (the client's portal account)
    # Client (or alternate contact) fields that can carry the address, in the order tried; a
    # preferred contact method may put others first (``preferred_fields``).
    contact_fields: tuple[str, ...] = ()
    preferred_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    staff_fields: tuple[str, ...] = ()  # the same for a staff user's profile ("email", "cell", "home")
    address_noun: str = "address"  # "cell phone number": for "No valid … for Text (SMS)"
    # Preferred Contact Method values (clients.models.ContactMethod) that mean this channel.
    preferred_by: tuple[str, ...] = ()
    # A messaging-profile flag that blocks the channel for this client ("sms_opted_out": replied STOP).
    opted_out_flag: str = ""
    opted_out_reason: str = ""
    template_fields: tuple[str, ...] = ()  # MessageTemplate fields this channel sends
    body_field: str = ""  # the Rendered attribute that is the message's text (previews, portal inbox)
    subject_field: str = ""  # the Rendered attribute that is its subject, if it has one
    clinical_check_place: str = ""  # where a clinical word would be read ("text message", "voicemail")
    stop_time_setting: int | None = None  # no message after this time in the recipient's zone
    redial_setting: int | None = None  # redials of a busy / unanswered line
    resend_setting: int | None = None  # resends of a failed message
    resend_interval_setting: int | None = None  # minutes between resends
    restart_setting: int | None = None  # restart a job interrupted mid-send (None: always)
    enabled_setting: str = ""  # the Django setting that switches the channel on (e.g. TWILIO_ENABLED)
    webhook_urls: str = ""  # module whose ``urlpatterns`` are mounted under /webhooks/
    preview_rank: int = 9  # which template the New tab previews first, before a Contact Method is chosen
    # The order of a message's copies: which one the portal inbox shows when a message went on several
    # channels, and the Failure Summary's columns (e-mail, text, voice, fax).
    portal_rank: int = 9
    staff_only_label: str = ""  # shown instead of the channel when it cannot reach staff
    reaches_staff: bool = True

    @property
    def rate_limit_name(self) -> str:
        """The key of ``settings.RATE_LIMITS_PER_SECOND`` (``RATE_<KIND>_PER_SECOND`` in the environment)."""
        return self.kind


@cache
def _specs() -> tuple[ChannelSpec, ...]:
    return tuple(import_module(f"messaging.channels.{name}.spec").SPEC for name in PACKAGES)


def all_specs() -> tuple[ChannelSpec, ...]:
    """Every channel, in the order staff see them."""
    return _specs()


@cache
def _by_kind() -> dict[str, ChannelSpec]:
    return {spec.kind: spec for spec in _specs()}


def spec_for(kind: str) -> ChannelSpec:
    """The spec of ``kind``; ``LookupError`` for a value that is not a channel."""
    try:
        return _by_kind()[kind]
    except KeyError:
        raise LookupError(f"no channel {kind!r}") from None


def kinds() -> tuple[str, ...]:
    return tuple(spec.kind for spec in _specs())


def choices() -> list[tuple[str, str]]:
    return [(spec.kind, spec.label) for spec in _specs()]


def label(kind: str) -> str:
    spec = _by_kind().get(kind)
    return spec.label if spec is not None else kind


def names(values: Iterable[str]) -> str:
    """ "Text (SMS), Email" for a list of channel values."""
    return ", ".join(label(str(v)) for v in values)


def channels_preferred_by(method: str) -> frozenset[str]:
    """The channels a Preferred Contact Method means (empty for Mail)."""
    return frozenset(spec.kind for spec in _specs() if method in spec.preferred_by)
