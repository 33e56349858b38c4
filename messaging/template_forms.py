"""Forms of Utilities > Templates: a message type, one channel's template texts, a voice recording."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import capfirst, slugify

from messaging.channels.registry import ChannelSpec
from messaging.languages import default_language, language_choices
from messaging.models import MessageTemplate, MessageType
from messaging.recordings import MAX_BYTES, MAX_SECONDS, Recording, RecordingError, inspect_recording
from messaging.rendering import PLACEHOLDERS, unknown_placeholders
from messaging.template_services import text_fields

# The longest text each template field takes: Twilio accepts 1,600 characters in one SMS; an e-mail or
# a fax may be as long as a letter; a voice script is read aloud (about ten minutes at most).
MAX_LENGTHS = {
    "sms_body": 1600,
    "email_subject": 200,
    "email_text": 20_000,
    "email_html": 40_000,
    "voice_script": 5_000,
    "fax_body": 20_000,
}
ROWS = {"sms_body": 4, "email_subject": 1, "voice_script": 6}


class MessageTypeForm(forms.ModelForm):
    """The fields of a message type staff decide; selection rules and numbered settings stay in the admin."""

    class Meta:
        model = MessageType
        fields = ["name", "code", "audience", "selection", "is_manual", "sort_order"]
        labels = {"code": "Short code", "is_manual": "Sent by hand from Utilities › Messaging"}
        help_texts = {
            "code": "Letters, numbers and dashes; made from the name when left empty. Reports and exports use it.",
            "sort_order": "Lower numbers come first in the Message Types list.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].required = False
        if self.instance.pk:
            # Automated rules and exports know a type by its code: it is fixed once the type exists.
            self.fields["code"].disabled = True
            self.fields["code"].help_text = "Fixed once the type exists (automated rules and exports use it)."

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("code") and data.get("name"):
            data["code"] = slugify(data["name"])[:64]
            if not data["code"]:
                self.add_error("name", "Use at least one letter or digit in the name.")
            elif MessageType.objects.filter(code=data["code"]).exclude(pk=self.instance.pk).exists():
                self.add_error("code", f"A message type with the code “{data['code']}” exists. Choose another code.")
        return data


class TemplateTextForm(forms.Form):
    """One channel's template texts (the fields its registry entry names), with their limits, and the
    language they are written in: saving in another language adds (or changes) that language's variant."""

    language = forms.ChoiceField(
        label="Language",
        required=False,
        help_text="Clients who prefer this language get this text; the others get the clinic's default language's.",
        error_messages={"invalid_choice": "Choose a language from the list."},
    )

    def __init__(
        self, *args: Any, spec: ChannelSpec, has_recording: bool = False, language: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.has_recording = has_recording
        self.editing_language = language or default_language()  # the variant on screen: when none is posted
        self.fields["language"].choices = language_choices()
        self.fields["language"].initial = self.editing_language
        for name in text_fields(spec):
            model_field = MessageTemplate._meta.get_field(name)
            limit = MAX_LENGTHS.get(name, 20_000)
            rows = ROWS.get(name, 10)
            widget: forms.Widget = (
                forms.TextInput(attrs={"maxlength": limit})
                if rows == 1
                else forms.Textarea(attrs={"rows": rows, "maxlength": limit, "class": "template-input"})
            )
            self.fields[name] = forms.CharField(
                label=capfirst(str(model_field.verbose_name)),
                required=False,
                max_length=limit,
                strip=False,
                widget=widget,
                error_messages={"max_length": f"At most {limit:,} characters (this has %(show_value)s)."},
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "language" not in self.errors:
            data["language"] = data.get("language") or self.editing_language
        texts = [name for name in text_fields(self.spec) if name in data]
        for name in texts:
            value = data[name]
            data[name] = (value or "").replace("\r\n", "\n")
            unknown = unknown_placeholders(data[name])
            if unknown:
                names = ", ".join("{{ " + n + " }}" for n in unknown)
                self.add_error(name, f"Unknown placeholder {names}: it would be sent empty. Use one from the list.")
        if not self.errors and not any(data[name].strip() for name in texts) and not self.has_recording:
            first = next(iter(text_fields(self.spec)), None)
            if first:
                self.add_error(first, "Write the message text.")
        return data


def placeholder_list() -> list[tuple[str, str]]:
    return [("{{ " + name + " }}", help_text) for name, help_text in PLACEHOLDERS.items()]


class RecordingUploadForm(forms.Form):
    recording = forms.FileField(
        label="Recording (WAV or MP3)",
        help_text=f"At most {MAX_BYTES // 1_048_576} MB and {MAX_SECONDS // 60} minutes.",
        widget=forms.ClearableFileInput(attrs={"accept": ".wav,.mp3,audio/wav,audio/mpeg"}),
        error_messages={"required": "Choose a WAV or MP3 file.", "empty": "The file is empty."},
    )

    def clean_recording(self) -> Any:
        upload = self.cleaned_data["recording"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; recordings may be at most {MAX_BYTES // 1_048_576} MB."
            )
        data = upload.read()
        try:
            self.recording: Recording = inspect_recording(data, upload.name or "")
        except RecordingError as exc:
            raise forms.ValidationError(str(exc)) from exc
        self.data_bytes = data
        return upload


class RecordingConfirmForm(forms.Form):
    pending = forms.CharField(widget=forms.HiddenInput, max_length=400)
