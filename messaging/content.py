"""What a message says, kept: the template version fixed at creation, the content stored when it goes out.

The rule (README, "Delivery rules"):

* **When a message is created** — a broadcast at Send, an automated message when the planner writes
  it, a notice when its cause happens — it records the current version of its template
  (:func:`version_for`; an edited template gets a new version, an unchanged one keeps its number).
  Editing the template afterwards changes no message already created.
* **When it goes out** the dispatcher renders that version for the recipient and stores the result
  before the provider call (:func:`store_contents`, keyed by a SHA-256 of the content: a broadcast
  whose text is the same for everyone stores one row, however many recipients). History, the delivery
  detail, the portal inbox and the CSV export read the stored content (:func:`rendered_for`), never
  today's template.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils.module_loading import import_string

from core import clock
from messaging.channels.registry import spec_for
from messaging.languages import Variants, template_variant
from messaging.models import MessageContent, MessageTemplate, TemplateVersion
from messaging.rendering import Rendered, delivery_context, recipient_wants, render_for

if TYPE_CHECKING:
    from messaging.models import Broadcast, Delivery

VERSIONED_FIELDS = ("sms_body", "email_subject", "email_text", "email_html", "voice_script", "fax_body")


# --- Template versions ------------------------------------------------------------------------------


def _fields_digest(template: MessageTemplate) -> str:
    values = {name: getattr(template, name) or "" for name in VERSIONED_FIELDS}
    values["voice_audio"] = template.voice_audio.name if template.voice_audio else ""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def _file_sha256(field: Any) -> str:
    if not field:
        return ""
    digest = hashlib.sha256()
    try:
        with field.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
    except OSError:
        return ""  # the file is gone from storage: the version still names it
    return digest.hexdigest()


def version_for(
    template: MessageTemplate, *, created_by: Any = None, broadcast: Broadcast | None = None
) -> TemplateVersion:
    """The version of ``template`` as it is now: its latest version if unchanged, else a new one.

    ``created_by``: who saved it (the Templates screen). ``broadcast``: a text edited on the New tab
    for that one send (``template`` is then a copy holding the edited text, not saved): always a new
    version, numbered after the others but never the template's current one."""
    digest = _fields_digest(template)
    for _ in range(3):
        versions = TemplateVersion.objects.filter(
            message_type_id=template.message_type_id, channel=template.channel, language=template.language
        )
        latest = versions.filter(broadcast__isnull=True).order_by("-number").first()
        if broadcast is None and latest is not None and latest.digest == digest:
            return latest
        top = versions.aggregate(top=Max("number"))["top"] or 0
        version = TemplateVersion(
            template=template if template.pk else None,
            message_type_id=template.message_type_id,
            channel=template.channel,
            language=template.language,
            number=top + 1,
            digest=digest,
            voice_audio=template.voice_audio.name if template.voice_audio else "",
            voice_audio_sha256=_file_sha256(template.voice_audio),
            created_at=clock.now(),
            created_by=created_by,
            broadcast=broadcast,
            **{name: getattr(template, name) or "" for name in VERSIONED_FIELDS},
        )
        try:
            with transaction.atomic():
                version.save(force_insert=True)
            return version
        except IntegrityError:
            continue  # another process made this number first: read again
    raise RuntimeError(f"could not record a version of template {template.pk}")


def one_off_version(
    *, broadcast: Broadcast, channel: str, values: dict[str, str], created_by: Any = None
) -> TemplateVersion:
    """A text edited on the New tab for ``broadcast`` only: a version of its template with ``values``
    (template field -> text), never the template's current one; the template itself is unchanged.
    The edit starts from the clinic's default language's text and goes to everyone on ``channel``."""
    template = template_variant(broadcast.message_type_id, channel)
    if template is None:
        raise MessageTemplate.DoesNotExist(f"no {channel} template for message type {broadcast.message_type_id}")
    draft = copy.copy(template)
    for name, value in values.items():
        if name in VERSIONED_FIELDS:
            setattr(draft, name, value)
    if "voice_script" in values and draft.voice_audio:
        draft.voice_audio = ""  # an edited script is read out: the recording says the template's words
    return version_for(draft, created_by=created_by, broadcast=broadcast)


class Versions:
    """The current template version per (message type, channel, language variant), looked up once per
    run (one Send, one planner pass): ``None`` for a type without a template on that channel.

    Each recipient gets the variant in the language they want (``messaging.languages``); a type's
    variants are read in one query, so a run costs the same whatever the number of recipients."""

    def __init__(self) -> None:
        self._variants = Variants()
        self._ids: dict[int, int] = {}

    def id_for(self, message_type_id: int, channel: str, language: str | None = None) -> int | None:
        """The version a recipient wanting ``language`` (a client's preferred language; None: the
        clinic's default, as for staff) gets on ``channel``."""
        template = self._variants.template(message_type_id, channel, language)
        if template is None:
            return None
        if template.pk not in self._ids:
            self._ids[template.pk] = version_for(template).pk
        return self._ids[template.pk]


# --- Stored content ---------------------------------------------------------------------------------


_RENDERED_FIELDS = tuple(f.name for f in dataclasses.fields(Rendered))


def record_for(channel: str, rendered: Rendered) -> dict[str, Any]:
    """The :class:`MessageContent` fields of ``rendered`` on ``channel`` (not yet stored)."""
    spec = spec_for(channel)
    parts = {k: v for k in _RENDERED_FIELDS if (v := getattr(rendered, k)) not in ("", None)}
    record: dict[str, Any] = {
        "channel": channel,
        "subject": (getattr(rendered, spec.subject_field, "") if spec.subject_field else "")[:255],
        "text": getattr(rendered, spec.body_field, "") or "",
        "parts": parts,
        "encoding": "",
        "segments": None,
        "audio": "",
        "audio_sha256": "",
    }
    if spec.record:
        record.update(import_string(spec.record)(rendered))
    payload = json.dumps({k: v for k, v in record.items()}, sort_keys=True, default=str)
    record["digest"] = hashlib.sha256(payload.encode()).hexdigest()
    return record


def store_contents(records: Sequence[dict[str, Any]], known: dict[str, int] | None = None) -> list[int]:
    """Store each record once (by digest) and answer their ids, in order. ``known`` (digest -> id) is
    a run's cache: content stored earlier in the same run costs no query."""
    known = known if known is not None else {}
    missing = {r["digest"]: r for r in records if r["digest"] not in known}
    if missing:
        now = clock.now()
        rows = [MessageContent(created_at=now, **fields) for fields in missing.values()]
        MessageContent.objects.bulk_create(rows, ignore_conflicts=True)
        found = MessageContent.objects.filter(digest__in=list(missing)).values_list("digest", "id")
        known.update(dict(found))
    return [known[r["digest"]] for r in records]


def rendered_for(delivery: Delivery) -> Rendered:
    """What ``delivery`` says: its stored content once it went out; before that its template version
    rendered for the recipient (what it will say); the current template only for messages created
    before versions were kept."""
    if delivery.content_id is not None:
        content = delivery.content
        known = {f.name for f in dataclasses.fields(Rendered)}
        return Rendered(**{k: v for k, v in (content.parts or {}).items() if k in known})
    template: Any = delivery.template_version if delivery.template_version_id is not None else None
    if template is None:
        template = template_variant(delivery.message_type_id, delivery.channel, recipient_wants(delivery))
    if template is None:
        return Rendered()
    return render_for(template=template, context=delivery_context(delivery, language=template.language))


def content_bytes() -> int:
    """Bytes the stored content takes on PostgreSQL (table, indexes, TOAST): for bench_send."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [MessageContent._meta.db_table])
        return int(cursor.fetchone()[0])


@dataclasses.dataclass(frozen=True)
class Said:
    """What a delivery says, for the delivery detail: stored (as sent) or due (as it will be sent)."""

    stored: bool
    subject: str
    text: str
    version: int | None  # its template version's number
    encoding: str = ""
    segments: int | None = None
    audio: str = ""
    audio_sha256: str = ""


def said(delivery: Delivery) -> Said:
    version = delivery.template_version.number if delivery.template_version_id is not None else None
    if delivery.content_id is not None:
        c = delivery.content
        return Said(True, c.subject, c.text, version, c.encoding, c.segments, c.audio, c.audio_sha256)
    record = record_for(delivery.channel, rendered_for(delivery))
    return Said(
        False,
        record["subject"],
        record["text"],
        version,
        record["encoding"],
        record["segments"],
        record["audio"],
        record["audio_sha256"],
    )
