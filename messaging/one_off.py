"""The New tab's "edit the text for this send only" (issue 14 §2).

Under each chosen Contact Method's preview the template's texts can be changed for one broadcast: a
longer ad hoc text (up to 1,600 characters, what Twilio accepts), a letter-length e-mail, another voice
script. The template is not changed: at Send the edited texts become a one-off
:class:`~messaging.models.TemplateVersion` (``broadcast`` set, never the template's current version,
:func:`messaging.content.one_off_version`) and that broadcast's deliveries are made from it, so History
and the delivery detail show what was really sent.

A field counts as edited only when its text differs from the template's; the e-mail's HTML part is
dropped from an edited e-mail (it would still say the template's words), so it goes as plain text.
The fields start from the clinic's default language's text, and the edited text goes to everyone on
that channel, whatever their language (one text for this send).
The page's fields are ``edit-<type>-<channel>-<field>`` (channels and fields from the registry), read
from the form's data by :func:`clean_one_off_texts`.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.utils.text import capfirst

from messaging.channels.registry import ChannelSpec, spec_for
from messaging.languages import Variants
from messaging.models import MessageTemplate
from messaging.rendering import unknown_placeholders
from messaging.template_forms import MAX_LENGTHS
from messaging.template_services import text_fields

# Not offered for a one-off edit: written as a whole HTML document; an edited e-mail goes as plain text.
NOT_EDITABLE = frozenset({"email_html"})


def editable_fields(spec: ChannelSpec) -> tuple[str, ...]:
    return tuple(name for name in text_fields(spec) if name not in NOT_EDITABLE)


def field_name(template: MessageTemplate, name: str) -> str:
    """``edit-<type>-<channel>-<field>``: a text typed for one type is never read as another's."""
    return f"edit-{template.message_type_id}-{template.channel}-{name}"


def _normalised(text: Any) -> str:
    return str(text or "").replace("\r\n", "\n")


def submitted(form: forms.Form, channel: str, template: MessageTemplate | None) -> dict[str, str] | None:
    """The texts typed for ``channel`` when they differ from the template's, else None."""
    if not form.is_bound or template is None:
        return None
    names = editable_fields(spec_for(channel))
    keys = [field_name(template, name) for name in names]
    if not names or any(key not in form.data for key in keys):
        return None  # not shown on the page: the template as it is
    values = {name: _normalised(form.data.get(key)) for name, key in zip(names, keys, strict=True)}
    if all(values[name] == _normalised(getattr(template, name)) for name in names):
        return None
    if "email_html" in spec_for(channel).template_fields:
        values["email_html"] = ""
    return values


# An edited voice script is read by the text-to-speech voice: the template's recording says the old words.
RECORDING_NOT_PLAYED = (
    "This type has a recorded voice message. If you change the script, the recording is not played for "
    "this send: the text-to-speech voice reads your script instead."
)


def without_recording(draft: MessageTemplate, values: dict[str, str]) -> None:
    """A draft whose voice script was edited plays no recording (what a client hears is what was typed)."""
    if "voice_script" in values and draft.voice_audio:
        draft.voice_audio = ""


def preview_template(form: forms.Form, channel: str, template: MessageTemplate | None) -> MessageTemplate | None:
    """The template the preview shows: with the texts typed for this send, if any."""
    values = submitted(form, channel, template)
    if values is None or template is None:
        return template
    draft = copy.copy(template)
    for name, value in values.items():
        setattr(draft, name, value[:50_000])
    without_recording(draft, values)
    return draft


def edit_fields(form: forms.Form, channel: str, template: MessageTemplate | None) -> list[dict[str, Any]]:
    """What the page shows to edit ``channel``'s text: one textarea per field, as typed or as the template says."""
    if template is None:
        return []
    fields = []
    for name in editable_fields(spec_for(channel)):
        key = field_name(template, name)
        typed = form.is_bound and key in form.data
        fields.append(
            {
                "name": key,
                "id": f"id_{key}",
                "label": capfirst(str(MessageTemplate._meta.get_field(name).verbose_name)),
                "value": _normalised(form.data.get(key)) if typed else getattr(template, name) or "",
                "maxlength": MAX_LENGTHS.get(name, 20_000),
                "rows": 1 if name == "email_subject" else (4 if name == "sms_body" else 8),
                "note": RECORDING_NOT_PLAYED if name == "voice_script" and template.voice_audio else "",
            }
        )
    return fields


def clean_one_off_texts(form: forms.Form, data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The edited texts per chosen channel; problems are added to the Contact Methods' errors (shown there)."""
    message_type, channels = data.get("message_type"), data.get("channels") or []
    if message_type is None or not channels:
        return {}
    variants = Variants()
    result: dict[str, dict[str, str]] = {}
    for channel in channels:
        values = submitted(form, channel, variants.template(message_type.pk, channel))
        if values is None:
            continue
        problems = _problems(spec_for(channel), values)
        for problem in problems:
            form.add_error("channels", f"{spec_for(channel).label}: {problem}")
        if not problems:
            result[channel] = values
    return result


def _problems(spec: ChannelSpec, values: dict[str, str]) -> list[str]:
    problems = []
    for name in editable_fields(spec):
        text, limit = values.get(name, ""), MAX_LENGTHS.get(name, 20_000)
        label = capfirst(str(MessageTemplate._meta.get_field(name).verbose_name))
        if len(text) > limit:
            problems.append(f"{label} is {len(text):,} characters; at most {limit:,} can be sent.")
        unknown = unknown_placeholders(text)
        if unknown:
            names = ", ".join("{{ " + n + " }}" for n in unknown)
            problems.append(f"{label} has an unknown placeholder {names}; it would be sent empty.")
    if spec.body_field in values and not values[spec.body_field].strip():
        problems.append("the message text is empty.")
    return problems
