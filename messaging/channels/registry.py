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

PACKAGES: tuple[str, ...] = ("voice", "sms", "email", "fax", "portal")


@dataclass(frozen=True)
class ChannelSpec:
    """What one channel is, how it finds its address, and which settings govern it."""

    kind: str  # the stored value (Delivery.channel)
    label: str  # what staff read: "Text (SMS)"
    send_label: str  # the New tab's Contact Methods: "Send Text Message"
    transport: str  # dotted path of its Transport class
    address_kind: str  # "phone", "email" or "portal" (the client's portal account)
    # An address that is the client's own, never an alternate contact's (the portal login):
    # ``address_field`` is the Client attribute that holds it, ``address_path`` its ORM path from
    # Client (bulk reads annotate it). Empty: the address is one of ``contact_fields``.
    address_field: str = ""
    address_path: str = ""
    # Client (or alternate contact) fields that can carry the address, in the order tried; a
    # preferred contact method may put others first (``preferred_fields``).
    contact_fields: tuple[str, ...] = ()
    preferred_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    staff_fields: tuple[str, ...] = ()  # the same for a staff user's profile ("email", "cell", "home")
    address_noun: str = "address"  # "cell phone number": for "No valid … for Text (SMS)"
    no_address_reason: str = ""  # the whole reason instead ("No client portal account")
    # Preferred Contact Method values (clients.models.ContactMethod) that mean this channel.
    preferred_by: tuple[str, ...] = ()
    # A messaging-profile flag that blocks the channel for this client ("sms_opted_out": replied STOP).
    opted_out_flag: str = ""
    opted_out_reason: str = ""
    template_fields: tuple[str, ...] = ()  # MessageTemplate fields this channel sends
    body_field: str = ""  # the Rendered attribute that is the message's text (previews, portal inbox)
    subject_field: str = ""  # the Rendered attribute that is its subject, if it has one
    clinical_check_place: str = ""  # where a clinical word would be read ("text message", "voicemail")
    # What {{ confirm_instructions }} says on this channel; empty: "call the practice".
    confirm_instructions: str = ""
    # Dotted path of ``f(rendered, template) -> (fields, warnings)``: what the New tab's preview shows
    # (body, subject, source, segment counts...) and the channel's own warnings.
    preview: str = ""
    # Dotted path of ``f(rendered) -> dict``: the channel's facts kept with the stored content (an
    # SMS's encoding and segments, a recording's file and checksum): messaging.content.
    record: str = ""
    # Dotted path of the module with the channel's words for a failure (messaging.explanations): its
    # ``EXPLANATIONS`` {Category: (what it means, what to do)} and optional ``BY_CODE`` {provider code: ...}.
    explanations: str = ""
    stop_time_setting: int | None = None  # no message after this time in the recipient's zone
    redial_setting: int | None = None  # redials of a busy / unanswered line
    resend_setting: int | None = None  # resends of a failed message
    resend_interval_setting: int | None = None  # minutes between resends
    restart_setting: int | None = None  # restart a job interrupted mid-send (None: always)
    enabled_setting: str = ""  # the Django setting that switches the channel on (e.g. TWILIO_ENABLED)
    rate_per_second: float = 0.0  # the provider's default send rate (RATE_<KIND>_PER_SECOND overrides); 0: none
    offered_setting: int | None = None  # a numbered Yes/No setting that offers it on the New tab (620)
    webhook_urls: str = ""  # module whose ``urlpatterns`` are mounted under /webhooks/
    # Module whose ``urlpatterns`` are mounted at the site's root: paths a provider or a message
    # already sent fixes (anymail's /anymail/<esp>/…, an e-mail's /bounces/unsubscribe/<token>/).
    site_urls: str = ""
    # Dotted path of ``f() -> None`` run once when messaging starts (AppConfig.ready): connect the
    # provider library's signals, register the channel's system checks.
    ready: str = ""
    preview_rank: int = 9  # which template the New tab previews first, before a Contact Method is chosen
    # The order of a message's copies: which one the portal inbox shows when a message went on several
    # channels, and the Failure Summary's columns (e-mail, text, voice, fax).
    portal_rank: int = 9
    staff_only_label: str = ""  # shown instead of the channel when it cannot reach staff
    reaches_staff: bool = True
    # Automated staff messages with no channel chosen go by the first of these ranks the user has an
    # address for (e-mail, then a cell phone); None: never a staff default.
    staff_default_rank: int | None = None
    # What staff read in a delay banner: "Text messages are delayed: …" (issue 17).
    plural: str = "Messages"
    # Dotted path of ``f(delivery, since) -> str``: the provider id of a message the provider already
    # has for this delivery, created since ``since`` ("" when it has none; raises when it cannot
    # tell). Asked before an attempt whose answer never came is sent again (messaging.dispatch.ambiguous).
    find_accepted: str = ""
    # Dotted path of the module that asks the provider for a message's current state when its status
    # callback is overdue (messaging.dispatch.reconcile): ``fetch_status(provider_id) -> dict`` (network
    # only; raises ``messaging.channels.base.NotKnown`` for an id the provider does not know) and
    # ``apply_status(delivery_id, provider_id, answer) -> bool`` (database only; False while the message
    # is still in flight). Empty: the provider has no status API and the channel is not reconciled.
    status_lookup: str = ""

    @property
    def phone_address(self) -> bool:
        """Its address is a phone number (validated and shown as one)."""
        return self.address_kind == "phone"

    @property
    def email_address(self) -> bool:
        """Its address is an e-mail address."""
        return self.address_kind == "email"

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


def offered(spec: ChannelSpec) -> bool:
    """Whether staff may choose the channel now (its numbered setting, if any, says Yes)."""
    if spec.offered_setting is None:
        return True
    from messaging.system_settings import get_setting  # reads the database: imported when asked

    return bool(get_setting(spec.offered_setting))


def switched_off(spec: ChannelSpec) -> str:
    """Why the channel cannot send now ("" when it can): its ``*_ENABLED`` switch is off."""
    from django.conf import settings

    if spec.enabled_setting and not getattr(settings, spec.enabled_setting, True):
        return f"{spec.label} is switched off ({spec.enabled_setting}=0)"
    return ""


def offered_choices() -> list[tuple[str, str]]:
    """The New tab's Contact Methods: the channels offered now."""
    return [(spec.kind, spec.label) for spec in _specs() if offered(spec)]


def site_urlpatterns() -> list:
    """Every channel's root-level URL patterns (``site_urls``), for the project's urls."""
    return [pattern for spec in _specs() if spec.site_urls for pattern in import_module(spec.site_urls).urlpatterns]


def run_ready_hooks() -> None:
    """Each channel's start-up hook (``ready``), from messaging's AppConfig.ready."""
    for spec in _specs():
        if spec.ready:
            module, _, name = spec.ready.rpartition(".")
            getattr(import_module(module), name)()


def reconciled() -> tuple[ChannelSpec, ...]:
    """The channels whose provider can be asked for a message's state (``status_lookup``)."""
    return tuple(spec for spec in _specs() if spec.status_lookup)


def staff_defaults() -> tuple[ChannelSpec, ...]:
    """The channels an automated staff message tries, in order, when its rule names none."""
    ranked = [spec for spec in _specs() if spec.staff_default_rank is not None]
    return tuple(sorted(ranked, key=lambda spec: spec.staff_default_rank or 0))


def contact_field_names() -> tuple[str, ...]:
    """Every client field any channel reads an address from (phone, cell phone, e-mail, fax)."""
    return tuple(dict.fromkeys(name for spec in _specs() for name in spec.contact_fields))


def channels_preferred_by(method: str) -> frozenset[str]:
    """The channels a Preferred Contact Method means (empty for Mail)."""
    return frozenset(spec.kind for spec in _specs() if method in spec.preferred_by)
