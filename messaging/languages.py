"""The client's language (issue 14 §4): which language variant of a template a recipient gets.

A template exists per message type, channel and language (``MessageTemplate.language``). A client
gets the variant in their preferred language (``Client.preferred_language``) if the type has one on
that channel, else the clinic's default language's (``settings.CLINIC_DEFAULT_LANGUAGE``), else any
(the first by language code). Staff users get the clinic's default language. The variant chosen
fixes the message's template version (``messaging.content.Versions``), and its language is the
language the message's dates, times and filled-in words are written in (``messaging.rendering``).

Selectors only: :class:`Variants` reads every template of a message type in one query, so choosing
for a whole list costs one query per type, whatever the number of recipients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils import formats, translation

if TYPE_CHECKING:
    from messaging.models import MessageTemplate

OTHER = "other"  # clients.models.Language.OTHER: no template can be written for it

# Words the rendering fills in, per language (English: messaging.rendering's own words).
PHRASES: dict[str, dict[str, str]] = {
    "es": {
        "neutral_clinician": "su proveedor",
        "neutral_location": "nuestra oficina",
        "telehealth": "Telesalud (consulta por video)",
        "call_to_confirm": "Para confirmar o cambiar la cita, llame al {phone}.",
        "confirm:sms": "Responda C para confirmar o N para cancelar.",
        "confirm:voice": "Para confirmar, oprima 1.",
    },
}

# Django's locale for a template language code (its formats and month and day names).
_DJANGO_LOCALE = {"zh": "zh-hans"}


class _HasLanguage(Protocol):
    language: str


def default_language() -> str:
    return str(getattr(settings, "CLINIC_DEFAULT_LANGUAGE", "en") or "en")


def language_choices() -> list[tuple[str, str]]:
    """The languages a template can be written in (the clients' languages but "Other")."""
    from clients.models import Language

    return [(code, str(label)) for code, label in Language.choices if code != OTHER]


def language_name(code: str) -> str:
    from clients.models import Language

    return str(dict(Language.choices).get(code, code or "?"))


def wanted_language(preferred: str | None) -> str:
    """The language a recipient asks for: a client's preferred language; staff (None, "") the default."""
    return preferred or default_language()


def choose(available: Collection[str], wanted: str | None) -> str | None:
    """The language a recipient wanting ``wanted`` gets among the ``available`` variants."""
    if not available:
        return None
    for code in (wanted, default_language()):
        if code and code in available:
            return code
    return min(available)


def phrase(language: str, key: str, default: str) -> str:
    return PHRASES.get(language, {}).get(key, default)


# --- Dates and times -----------------------------------------------------------------------------


def _django_locale(language: str) -> str | None:
    """Django's locale for ``language``, or None for English (the rendering's own formats)."""
    if not language or language == "en" or language == OTHER:
        return None
    return _DJANGO_LOCALE.get(language, language)


def localized_date(value: dt.datetime | dt.date, language: str) -> str | None:
    """``value`` as a weekday and date in ``language`` ("martes 8 de diciembre"); None for English."""
    locale = _django_locale(language)
    if locale is None:
        return None
    with translation.override(locale):
        return f"{formats.date_format(value, 'l')} {formats.date_format(value, 'MONTH_DAY_FORMAT')}"


def localized_time(value: dt.datetime, language: str) -> str | None:
    """``value``'s time of day in ``language`` ("14:30"); None for English."""
    locale = _django_locale(language)
    if locale is None:
        return None
    with translation.override(locale):
        return formats.time_format(value, "TIME_FORMAT")


# --- Variants -------------------------------------------------------------------------------------


class Variants:
    """Every language variant of the templates of the message types asked for, each type read once."""

    def __init__(self) -> None:
        self._by_type: dict[int, dict[str, dict[str, MessageTemplate]]] = {}

    def of(self, message_type_id: int) -> dict[str, dict[str, MessageTemplate]]:
        """channel -> language -> template, for one message type."""
        if message_type_id not in self._by_type:
            from messaging.models import MessageTemplate

            table: dict[str, dict[str, MessageTemplate]] = {}
            for template in MessageTemplate.objects.filter(message_type_id=message_type_id):
                table.setdefault(template.channel, {})[template.language] = template
            self._by_type[message_type_id] = table
        return self._by_type[message_type_id]

    def languages(self, message_type_id: int, channel: str) -> set[str]:
        return set(self.of(message_type_id).get(channel, {}))

    def template(self, message_type_id: int, channel: str, wanted: str | None = None) -> MessageTemplate | None:
        """The variant a recipient wanting ``wanted`` gets (None: the default language's)."""
        by_language = self.of(message_type_id).get(channel, {})
        code = choose(by_language, wanted or default_language())
        return by_language[code] if code is not None else None


def template_variant(message_type_id: int, channel: str, wanted: str | None = None) -> MessageTemplate | None:
    """One type's variant for one recipient (one query): see :class:`Variants`."""
    return Variants().template(message_type_id, channel, wanted)


# --- What the recipient list shows ----------------------------------------------------------------


def language_note(wanted: str, got: str | None) -> str:
    """What a recipient gets, in words: "Spanish", or "English (no Spanish text)"."""
    if got is None or got == wanted:
        return language_name(wanted)
    if wanted == OTHER:
        return f"{language_name(got)} (prefers another language)"
    return f"{language_name(got)} (no {language_name(wanted)} text)"


def recipient_language_label(
    wanted: str, channels: Sequence[str], available: dict[str, Collection[str]], channel_labels: dict[str, str]
) -> str:
    """The language column of one recipient: the variant they get on each of ``channels`` (grouped
    when channels differ, e.g. "Spanish: Text (SMS); English (no Spanish text): Voice")."""
    got: dict[str, list[str]] = {}
    for channel in channels:
        code = choose(available.get(channel, ()), wanted)
        if code is not None:
            got.setdefault(code, []).append(channel)
    if not got:
        return language_note(wanted, None)
    if len(got) == 1:
        return language_note(wanted, next(iter(got)))
    return "; ".join(
        f"{language_note(wanted, code)}: {', '.join(channel_labels.get(c, c) for c in chans)}"
        for code, chans in got.items()
    )


class _ListedRecipient(Protocol):
    language: str
    language_label: str
    targets: Sequence[object]


def label_recipients(
    recipients: Iterable[_ListedRecipient], message_type_id: int, channels: Sequence[str], variants: Variants
) -> None:
    """Set ``language_label`` on each recipient (the Refresh list's language column): the variant
    their targets' channels give them, or, before Contact Methods are chosen, every channel the type
    has a template on. One query (the type's variants), whatever the number of rows."""
    from messaging.channels.registry import label as channel_label

    table = variants.of(message_type_id)
    available = {channel: set(by_language) for channel, by_language in table.items()}
    labels = {channel: channel_label(channel) for channel in table}
    every = tuple(channels) or tuple(sorted(table))
    # A label depends only on the language asked for and the channels: worked out once per pair
    # (a page of 500 rows has a handful).
    known: dict[tuple[str, tuple[str, ...]], str] = {}
    for recipient in recipients:
        key = (recipient.language, tuple(getattr(t, "channel", "") for t in recipient.targets) or every)
        label = known.get(key)
        if label is None:
            label = known[key] = recipient_language_label(wanted_language(key[0]), key[1], available, labels)
        recipient.language_label = label
