"""Utilities > Templates: writes (services) and reads (selectors) of message types, templates, recordings.

Every save of a template records a :class:`~messaging.models.TemplateVersion` with who saved it
(:func:`messaging.content.version_for`): messages already created keep the version they were made
from, and every version stays readable. Nothing here deletes a message type, a template or a
version: a type is retired (``active=False``) and leaves the New tab, its history intact. A (type,
channel) has a template per language (``messaging.languages``); each language's versions are numbered
on their own.

Recordings are checked by :mod:`messaging.recordings`, kept under ``voice/pending/`` until staff
have listened and confirmed, then stored as the template's ``voice_audio`` (a new file name each time,
so a version's recording is never overwritten): the file the voice webhook plays through the
dispatcher's signed URL.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from messaging.channels.registry import ChannelSpec, all_specs, spec_for
from messaging.content import version_for
from messaging.languages import default_language, language_name
from messaging.models import MessageTemplate, MessageType, TemplateVersion
from messaging.recordings import Recording

PENDING_DIR = "voice/pending/"
AUDIO_FIELD = "voice_audio"


def text_fields(spec: ChannelSpec) -> tuple[str, ...]:
    """The template fields of a channel that staff type (the recording is uploaded separately)."""
    return tuple(name for name in spec.template_fields if name != AUDIO_FIELD)


def takes_recording(spec: ChannelSpec) -> bool:
    return AUDIO_FIELD in spec.template_fields


# --- Selectors ------------------------------------------------------------------------------------


@dataclass
class VariantRow:
    """One language's template of a (type, channel) and its current version number."""

    language: str
    name: str
    template: MessageTemplate
    version: int | None


@dataclass
class ChannelRow:
    """A channel of a type: its template in the clinic's default language (else the first there
    is) with its version, and every language variant (default language first)."""

    spec: ChannelSpec
    template: MessageTemplate | None
    version: int | None
    variants: list[VariantRow] = field(default_factory=list)

    @property
    def other_variants(self) -> list[VariantRow]:
        return self.variants[1:]


@dataclass
class TypeRow:
    message_type: MessageType
    channels: list[ChannelRow] = field(default_factory=list)


def current_versions(message_type_ids: list[int] | None = None) -> dict[tuple[int, str, str], int]:
    """The latest (non one-off) version number per (message type, channel, language)."""
    rows = TemplateVersion.objects.filter(broadcast__isnull=True)
    if message_type_ids is not None:
        rows = rows.filter(message_type_id__in=message_type_ids)
    found = rows.values("message_type_id", "channel", "language").annotate(top=Max("number")).order_by()
    return {(r["message_type_id"], r["channel"], r["language"]): r["top"] for r in found}


def _channel_row(
    spec: ChannelSpec, by_language: dict[str, MessageTemplate], versions: dict[tuple[int, str, str], int]
) -> ChannelRow:
    default = default_language()
    order = sorted(by_language, key=lambda code: (code != default, code))
    variants = [
        VariantRow(
            code,
            language_name(code),
            by_language[code],
            versions.get((by_language[code].message_type_id, spec.kind, code)),
        )
        for code in order
    ]
    first = variants[0] if variants else None
    return ChannelRow(spec, first.template if first else None, first.version if first else None, variants)


def type_rows(message_type_id: int | None = None) -> list[TypeRow]:
    """Every message type (active first; or the one asked for) with a row per channel of the registry."""
    types = MessageType.objects.order_by("-active", "sort_order", "name")
    templates = MessageTemplate.objects.all()
    if message_type_id is not None:
        types, templates = types.filter(pk=message_type_id), templates.filter(message_type_id=message_type_id)
    table: dict[tuple[int, str], dict[str, MessageTemplate]] = {}
    for template in templates:
        table.setdefault((template.message_type_id, template.channel), {})[template.language] = template
    versions = current_versions(None if message_type_id is None else [message_type_id])
    specs = all_specs()
    return [
        TypeRow(t, [_channel_row(spec, table.get((t.pk, spec.kind), {}), versions) for spec in specs]) for t in types
    ]


VERSIONS_SHOWN = 50


def versions_of(
    message_type: MessageType, channel: str, language: str, *, limit: int | None = VERSIONS_SHOWN
) -> list[TemplateVersion]:
    """A template's versions in one language, newest first (one-off texts of a single send included,
    marked); the latest ``limit`` unless None."""
    rows = (
        TemplateVersion.objects.filter(message_type=message_type, channel=channel, language=language)
        .select_related("created_by")
        .order_by("-number")
    )
    return list(rows[:limit] if limit is not None else rows)


def version_count(message_type: MessageType, channel: str, language: str) -> int:
    return TemplateVersion.objects.filter(message_type=message_type, channel=channel, language=language).count()


def template_in(message_type: MessageType, channel: str, language: str) -> MessageTemplate | None:
    """The type's template on ``channel`` in exactly ``language`` (no fallback: the editor's)."""
    return MessageTemplate.objects.filter(message_type=message_type, channel=channel, language=language).first()


# --- Services ------------------------------------------------------------------------------------


def message_type_save(*, message_type: MessageType, values: Mapping[str, Any]) -> MessageType:
    """Create or change a message type (validated values from the form)."""
    for name, value in values.items():
        setattr(message_type, name, value)
    message_type.save()
    return message_type


def message_type_set_active(*, message_type: MessageType, active: bool) -> MessageType:
    """Retire a type (it leaves the New tab and the planner's choices) or bring it back. Never deleted:
    its broadcasts, deliveries and versions point at it."""
    MessageType.objects.filter(pk=message_type.pk).update(active=active)
    message_type.active = active
    return message_type


def template_save(
    *, message_type: MessageType, channel: str, values: Mapping[str, str], user: Any, language: str = ""
) -> tuple[MessageTemplate, TemplateVersion]:
    """Save the texts of a (type, channel, language) template (a new language variant the first
    time) and record the version they make."""
    spec = spec_for(channel)
    with transaction.atomic():
        template, _ = MessageTemplate.objects.select_for_update().get_or_create(
            message_type=message_type, channel=spec.kind, language=language or default_language()
        )
        for name in text_fields(spec):
            setattr(template, name, values.get(name, "") or "")
        template.save()
        version = version_for(template, created_by=user)
    return template, version


def recording_stage(*, data: bytes, recording: Recording) -> str:
    """Keep a checked upload until staff confirm it: answers its storage name (under ``voice/pending/``)."""
    name = f"{PENDING_DIR}{secrets.token_hex(16)}{recording.extension}"
    return default_storage.save(name, ContentFile(data))


# An upload staff never confirmed (the page was left) is deleted after this long (beat, hourly).
PENDING_KEPT = dt.timedelta(hours=24)


def discard_stale_recordings(*, now: dt.datetime) -> int:
    """Delete uploads under ``voice/pending/`` older than :data:`PENDING_KEPT`: a recording is
    checked and played back before it is confirmed, and one never confirmed must not stay on disk
    for ever (it may be a voice message with a client's name in it). Returns how many went."""
    try:
        _, names = default_storage.listdir(PENDING_DIR)
    except FileNotFoundError:
        return 0
    gone = 0
    for file_name in names:
        name = f"{PENDING_DIR}{file_name}"
        if is_pending_name(name) and default_storage.get_modified_time(name) < now - PENDING_KEPT:
            default_storage.delete(name)
            gone += 1
    return gone


def is_pending_name(name: str) -> bool:
    tail = name[len(PENDING_DIR) :]
    return name.startswith(PENDING_DIR) and bool(tail) and "/" not in tail and ".." not in tail


def recording_attach(
    *, message_type: MessageType, pending_name: str, user: Any, language: str = ""
) -> tuple[MessageTemplate, TemplateVersion]:
    """Make a confirmed upload the type's voice recording (a new file; the old one stays for its
    versions) and record the version."""
    if not is_pending_name(pending_name) or not default_storage.exists(pending_name):
        raise FileNotFoundError(pending_name)
    extension = pending_name.rsplit(".", 1)[-1]
    with default_storage.open(pending_name, "rb") as handle:
        data = handle.read()
    spec = _voice_spec()
    # The file first (storage may be remote), then one short transaction.
    stored = default_storage.save(
        f"voice/{message_type.code[:40]}-{secrets.token_hex(6)}.{extension}", ContentFile(data)
    )
    with transaction.atomic():
        template, _ = MessageTemplate.objects.select_for_update().get_or_create(
            message_type=message_type, channel=spec.kind, language=language or default_language()
        )
        template.voice_audio.name = stored
        template.save()
        version = version_for(template, created_by=user)
    default_storage.delete(pending_name)
    return template, version


def recording_remove(
    *, message_type: MessageType, user: Any, language: str = ""
) -> tuple[MessageTemplate, TemplateVersion] | None:
    """Stop playing a recording (the script is read instead). The file stays for earlier versions."""
    spec = _voice_spec()
    with transaction.atomic():
        template = (
            MessageTemplate.objects.select_for_update()
            .filter(message_type=message_type, channel=spec.kind, language=language or default_language())
            .first()
        )
        if template is None or not template.voice_audio:
            return None
        template.voice_audio = ""
        template.save()
        return template, version_for(template, created_by=user)


def _voice_spec() -> ChannelSpec:
    """The channel that plays recordings (the one whose template has the audio field)."""
    for spec in all_specs():
        if takes_recording(spec):
            return spec
    raise LookupError("no channel plays recordings")
