"""Message templates rendered safely: a fixed whitelist of ``{{ placeholder }}`` names, no attribute access.

Administrators write templates in the admin with the placeholders documented in :data:`PLACEHOLDERS`.
Rendering substitutes plain strings only: ``{{ client.diagnosis }}`` or ``{{ x|filter }}`` are not
names of the whitelist and render as nothing, so a template can never reach into a model.

Public interface (used by the dispatcher at send time and by the New tab's preview):

- :func:`render_for` renders one :class:`~messaging.models.MessageTemplate` with a context.
- :func:`delivery_context` builds the context of one :class:`~messaging.models.Delivery`.
- :func:`render_delivery` does both for a delivery.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers
from django.conf import settings
from django.urls import reverse

from core import clock
from messaging.channels.registry import spec_for
from messaging.languages import (
    default_language,
    localized_date,
    localized_time,
    phrase,
    template_variant,
    wanted_language,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from clients.models import Appointment, Client, StaffProfile
    from messaging.models import Delivery, MessageTemplate

PLACEHOLDERS: dict[str, str] = {
    "first_name": "Recipient's first (or preferred) name",
    "appointment_date": "Appointment date in the recipient's time zone, e.g. Tuesday, March 4",
    "appointment_time": "Appointment time in the recipient's time zone, e.g. 2:30 PM",
    "clinician_name": "Clinician's display name (neutral wording for Part 2 clients)",
    "location": "Appointment location, or 'Telehealth (video visit)'",
    "telehealth_link": "Meeting link of a telehealth appointment",
    "practice_name": "Practice name",
    "practice_phone": "Practice phone number",
    "confirm_instructions": "How to confirm (per channel)",
    "description": "The broadcast's Description",
    "renewal_item": "Staff licence or credential due for renewal",
    "renewal_date": "Its renewal date",
    "statement_message": "Setting 182 (BILLING - STATEMENT message)",
    "portal_message": "Setting 371 (PORTAL - Change or Forgot Password Change Message)",
    "portal_url": "The client portal's address (where portal messages are read)",
    "appointment_id": "The appointment's number (staff notices: no client name)",
    "appointment_url": "The appointment on the Scheduled Appointments screen (staff notices)",
}

_PLACEHOLDER_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
# Words used for a Part 2 client instead of details that could reveal a substance-use program.
NEUTRAL_CLINICIAN = "your provider"
NEUTRAL_LOCATION = "our office"


@dataclass(frozen=True)
class Rendered:
    sms_body: str = ""
    email_subject: str = ""
    email_text: str = ""
    email_html: str = ""
    voice_script: str = ""
    voice_audio_url: str | None = None  # the template's recorded audio: URL path only, no host
    fax_text: str = ""
    voice_audio_name: str = ""  # the recording's file name and checksum (its template version's)
    voice_audio_sha256: str = ""


def substitute(text: str, context: dict[str, str], *, escape_html: bool = False) -> str:
    """Replace whitelisted ``{{ name }}`` placeholders by their context value; anything else by ''."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return ""
        raw = str(context.get(name, "") or "")
        return html.escape(raw) if escape_html else raw

    return _PLACEHOLDER_RE.sub(value, text or "")


def unknown_placeholders(text: str) -> list[str]:
    """Placeholder names in ``text`` that are not in the whitelist (they would render empty)."""
    seen: list[str] = []
    for name in _PLACEHOLDER_RE.findall(text or ""):
        if name not in PLACEHOLDERS and name not in seen:
            seen.append(name)
    return seen


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_for(*, template: MessageTemplate, context: dict[str, str]) -> Rendered:
    """Render every part of ``template`` with ``context`` (plain strings; HTML parts are escaped)."""
    audio = template.voice_audio.url if template.voice_audio else None
    return Rendered(
        sms_body=substitute(template.sms_body, context).strip(),
        email_subject=_one_line(substitute(template.email_subject, context)),
        email_text=substitute(template.email_text, context),
        email_html=substitute(template.email_html, context, escape_html=True),
        voice_script=substitute(template.voice_script, context).strip(),
        voice_audio_url=audio,
        fax_text=substitute(template.fax_body, context),
        voice_audio_name=template.voice_audio.name if template.voice_audio else "",
        voice_audio_sha256=getattr(template, "voice_audio_sha256", ""),
    )


# --- Context -----------------------------------------------------------------------------------


def format_date(value: dt.datetime | dt.date, language: str = "") -> str:
    """A weekday and date: "Tuesday, December 8"; in another language its own way ("martes 8 de diciembre")."""
    if language and (localized := localized_date(value, language)) is not None:
        return localized
    return f"{value:%A, %B} {value.day}"


def format_time(value: dt.datetime, language: str = "") -> str:
    """A time of day: "2:30 PM"; in another language its own way ("14:30")."""
    if language and (localized := localized_time(value, language)) is not None:
        return localized
    hour = value.hour % 12 or 12
    return f"{hour}:{value:%M} {'AM' if value.hour < 12 else 'PM'}"


def format_phone(number: str) -> str:
    """A phone number as people write it: national format in the default region."""
    if (
        settings.PHONENUMBER_DEFAULT_REGION == "US"
        and len(number) == 12
        and number.startswith("+1")
        and number[1:].isdigit()
    ):
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"  # NANP: no parsing needed
    try:
        parsed = phonenumbers.parse(number, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def confirm_instructions(channel: str, language: str = "") -> str:
    """How to confirm on ``channel`` (its spec's words: reply C, press 1), else: call the practice."""
    try:
        words = spec_for(channel).confirm_instructions
    except LookupError:
        words = ""
    phone = format_phone(settings.PRACTICE_PHONE)
    if words:
        return phrase(language, f"confirm:{channel}", words)
    return phrase(language, "call_to_confirm", "To confirm or reschedule, call {phone}.").format(phone=phone)


def _appointment_when(start: dt.datetime, zone: zoneinfo.ZoneInfo, language: str = "") -> tuple[str, str]:
    local = start.astimezone(zone)
    time = format_time(local, language)
    if zone.key != clock.clinic_zone().key:
        time = f"{time} {local.tzname()}"
    return format_date(local, language), time


def staff_name(user: AbstractBaseUser | None) -> str:
    if user is None:
        return ""
    profile = _related(user, "staff_profile")
    if profile is not None:
        return profile.name
    full = getattr(user, "get_full_name", lambda: "")()
    return full or user.get_username()


def _related(obj: object, name: str) -> object | None:
    try:
        return getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist
        return None


def renewal_due(
    profile: StaffProfile | None, *, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[str, dt.date] | None:
    """The staff member's licence/credential renewal that falls in [start, end] (earliest first)."""
    if profile is None:
        return None
    due = [
        (profile.licence_name or "licence", profile.licence_renewal_date),
        (profile.credential_name or "credential", profile.credential_renewal_date),
    ]
    candidates = [
        (item, day)
        for item, day in due
        if day is not None and (start is None or day >= start) and (end is None or day <= end)
    ]
    return min(candidates, key=lambda pair: pair[1]) if candidates else None


def base_context(*, channel: str, description: str = "", language: str = "") -> dict[str, str]:
    from messaging.system_settings import get_setting

    return {
        "practice_name": settings.PRACTICE_NAME,
        "practice_phone": format_phone(settings.PRACTICE_PHONE),
        "confirm_instructions": confirm_instructions(channel, language),
        "description": description,
        "statement_message": str(get_setting(182)),
        "portal_message": str(get_setting(371)),
        "portal_url": settings.PUBLIC_BASE_URL + reverse("portal:inbox"),
    }


def recipient_context(
    *,
    channel: str,
    description: str = "",
    client: Client | None = None,
    user: AbstractBaseUser | None = None,
    appointment: Appointment | None = None,
    window: tuple[dt.date | None, dt.date | None] = (None, None),
    language: str = "",
) -> dict[str, str]:
    """The placeholder values for one recipient (client or staff user) on one channel, written in
    ``language`` (the language of the template variant the message is made from; "" the default)."""
    language = language or default_language()
    context = base_context(channel=channel, description=description, language=language)
    zone = clock.clinic_zone()
    part2 = False
    if client is not None:
        context["first_name"] = client.display_first_name
        zone, part2 = client.zone, client.part2_diagnosis
    elif user is not None:
        profile = _related(user, "staff_profile")
        context["first_name"] = getattr(user, "first_name", "") or staff_name(user)
        if profile is not None:
            zone = profile.zone
        renewal = renewal_due(profile, start=window[0], end=window[1])
        if renewal is not None:
            context["renewal_item"] = renewal[0]
            context["renewal_date"] = format_date(renewal[1], language)
    if appointment is not None:
        context.update(_appointment_context(appointment, zone=zone, neutral=part2, language=language))
    return context


def _appointment_context(
    appointment: Appointment, *, zone: zoneinfo.ZoneInfo, neutral: bool, language: str = ""
) -> dict[str, str]:
    date, time = _appointment_when(appointment.start, zone, language)
    neutral_location = phrase(language, "neutral_location", NEUTRAL_LOCATION)
    if appointment.is_telehealth:
        location = phrase(language, "telehealth", "Telehealth (video visit)")
    else:
        location = neutral_location if neutral else (appointment.location or neutral_location)
    return {
        "appointment_id": str(appointment.pk),
        "appointment_url": settings.PUBLIC_BASE_URL
        + reverse("messaging:appointments")
        + f"#appointment-{appointment.pk}",
        "appointment_date": date,
        "appointment_time": time,
        "clinician_name": phrase(language, "neutral_clinician", NEUTRAL_CLINICIAN)
        if neutral
        else staff_name(appointment.clinician),
        "location": location,
        "telehealth_link": appointment.meeting_link if appointment.is_telehealth else "",
    }


def sample_context(*, channel: str, description: str = "", language: str = "") -> dict[str, str]:
    """Values for a preview before Refresh has found a real recipient (written in ``language``)."""
    from django.utils import timezone

    language = language or default_language()
    start = timezone.localtime() + dt.timedelta(days=2)
    start = start.replace(hour=10, minute=30)
    context = base_context(channel=channel, description=description, language=language)
    context.update(
        {
            "first_name": "Alex",
            "appointment_date": format_date(start, language),
            "appointment_time": format_time(start, language),
            "clinician_name": "Jordan Lee, LCSW",
            "location": "Main Office, Suite 200",
            "telehealth_link": "https://meet.example.org/visit/abc123",
            "renewal_item": "State licence",
            "renewal_date": format_date(start.date() + dt.timedelta(days=28), language),
        }
    )
    return context


def delivery_context(delivery: Delivery, *, language: str = "") -> dict[str, str]:
    """The placeholder values for ``delivery`` (its recipient, appointment, channel and broadcast),
    written in ``language``, by default the language of the template it is made from
    (:func:`delivery_language`)."""
    broadcast = delivery.broadcast
    return recipient_context(
        channel=delivery.channel,
        description=broadcast.description,
        client=delivery.client,
        user=delivery.user,
        appointment=delivery.appointment,
        window=(broadcast.start_date, broadcast.end_date),
        language=language or delivery_language(delivery),
    )


def delivery_language(delivery: Delivery) -> str:
    """The language of what ``delivery`` says: its template version's; for a message made without a
    version, the variant its recipient gets of the type's current templates (:func:`template_for`)."""
    if delivery.template_version_id is not None:
        return delivery.template_version.language
    template = template_for(delivery.message_type_id, delivery.channel, recipient_wants(delivery))
    return template.language if template is not None else default_language()


def recipient_wants(delivery: Delivery) -> str:
    """The language ``delivery``'s recipient asks for: a client's preferred one; staff the default."""
    client = delivery.client if delivery.client_id is not None else None
    return wanted_language(client.preferred_language if client is not None else "")


def template_for(message_type_id: int, channel: str, language: str = "") -> MessageTemplate | None:
    """The type's template on ``channel`` in ``language`` (else the default language's, else any)."""
    return template_variant(message_type_id, channel, language or None)


def render_delivery(delivery: Delivery) -> Rendered:
    """What ``delivery`` says: see :func:`messaging.content.rendered_for` (the stored content once it
    went out, else its template version rendered for the recipient)."""
    from messaging.content import rendered_for  # content builds on this module

    return rendered_for(delivery)
