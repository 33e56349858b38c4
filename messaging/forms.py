"""Forms of Utilities > Messaging: the New tab (labels as the seed writes them) and History filters."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django import forms
from django.utils import timezone

from core import clock
from messaging.channels.registry import offered_choices, spec_for, switched_off
from messaging.history import Filters
from messaging.models import Channel, MessageTemplate, MessageType, Status
from messaging.one_off import clean_one_off_texts

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
MAX_RANGE_DAYS = 366


def new_idempotency_key() -> str:
    return secrets.token_hex(16)


def _a_year_after(day: dt.date) -> dt.date:
    """The same day next year (28 February for 29 February): the latest Broadcast Date accepted."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


class ChannelCheckboxes(forms.CheckboxSelectMultiple):
    """Contact Methods: a channel switched off by the administrator is shown, but cannot be ticked."""

    disabled_values: set[str] = set()

    def create_option(self, name: str, value: Any, label: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, label, *args, **kwargs)
        if str(value) in self.disabled_values:
            option["attrs"]["disabled"] = True
            option["label"] = f"{label} (switched off)"
        return option


def send_label(channels: list[str] | tuple[str, ...]) -> str:
    """The Send button's words for the chosen Contact Methods."""
    chosen = list(dict.fromkeys(channels))
    if len(chosen) == 1:
        try:
            return spec_for(chosen[0]).send_label
        except LookupError:
            return "Send Message"
    return "Send Messages" if chosen else "Send Message"


class NewMessageForm(forms.Form):
    message_type = forms.ModelChoiceField(
        label="Message Types",
        queryset=MessageType.objects.filter(active=True),
        empty_label="Choose a message type…",
        error_messages={"required": "Choose a message type.", "invalid_choice": "Choose a message type."},
    )
    description = forms.CharField(label="Description", required=False, max_length=255)
    start_date = forms.DateField(label="Start Date", widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label="End Date", widget=forms.DateInput(attrs={"type": "date"}))
    broadcast_at = forms.DateTimeField(
        label="Broadcast Date",
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        help_text="Clinic time. A time already past goes out now.",
    )
    only_preferences = forms.BooleanField(label="Only Send Based on Preferences", required=False)
    channels = forms.MultipleChoiceField(
        label="Contact Methods", choices=Channel.choices, required=False, widget=ChannelCheckboxes
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    skipped = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, sending: bool = False, **kwargs: Any) -> None:
        """``sending``: validate for Send (Description, Contact Methods, templates), not only Refresh."""
        self.sending = sending
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            today = timezone.localdate(clock.now())
            self.initial.setdefault("start_date", today)
            self.initial.setdefault("end_date", today + dt.timedelta(days=7))
            self.initial.setdefault("broadcast_at", timezone.localtime(clock.now()).replace(second=0, microsecond=0))
            self.initial.setdefault("idempotency_key", new_idempotency_key())
        message_type = self.chosen_type()
        if message_type is not None and message_type.is_manual:
            description = self.fields["description"]
            description.required = self.sending  # Refresh works before the Description is written
            description.widget.attrs["required"] = True
            description.error_messages["required"] = f"Description is required for {message_type.name} messages."
        self.fields["description"].widget.attrs.setdefault("placeholder", "What this message is about")
        self.fields["message_type"].widget.attrs["id"] = "id_message_type"
        self.fields["channels"].choices = offered_choices()  # "Portal message" only while 620 is Yes
        self.switched_off = {kind: why for kind, _ in offered_choices() if (why := switched_off(spec_for(kind)))}
        self.fields["channels"].widget.disabled_values = set(self.switched_off)

    def chosen_type(self) -> MessageType | None:
        """The selected message type, read from the raw data (before validation) or the initial."""
        raw = self.data.get("message_type") if self.is_bound else self.initial.get("message_type")
        if isinstance(raw, MessageType):
            return raw
        if not raw:
            return None
        try:
            return MessageType.objects.filter(pk=int(raw), active=True).first()
        except (TypeError, ValueError):
            return None

    def chosen_channels(self) -> list[str]:
        raw = self.data.getlist("channels") if self.is_bound else self.initial.get("channels", [])
        valid = {kind for kind, _ in offered_choices()} - set(self.switched_off)
        return [c for c in dict.fromkeys(raw) if c in valid]

    def clean_description(self) -> str:
        text = " ".join(self.cleaned_data.get("description", "").split())
        if not text and self.fields["description"].required:
            raise forms.ValidationError(self.fields["description"].error_messages["required"])
        return text

    def clean_broadcast_at(self) -> dt.datetime:
        value: dt.datetime = self.cleaned_data["broadcast_at"]
        day, today = timezone.localdate(value), timezone.localdate(clock.now())
        if day < today:
            raise forms.ValidationError("Broadcast Date is in the past. Choose today or a later date.")
        if day > _a_year_after(today):
            raise forms.ValidationError("Broadcast Date is more than a year ahead. Choose a date within a year.")
        return value

    def clean_skipped(self) -> frozenset[str]:
        raw = self.cleaned_data.get("skipped") or ""
        return frozenset(k for k in raw.split(",") if k.strip())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "End Date is before Start Date.")
        elif start and end and (end - start).days > MAX_RANGE_DAYS:
            self.add_error("end_date", f"Choose a range of at most {MAX_RANGE_DAYS} days.")
        if self.sending:
            self._clean_channels_for_send(data)
        data["one_off_texts"] = clean_one_off_texts(self, data)  # texts edited for this send only
        return data

    def _clean_channels_for_send(self, data: dict[str, Any]) -> None:
        channels = data.get("channels") or []
        if not channels:
            self.add_error("channels", "Choose at least one Contact Method.")
            return
        off = [self.switched_off[c] for c in channels if c in self.switched_off]
        if off:
            self.add_error("channels", "; ".join(off) + ". Choose another Contact Method or ask your administrator.")
            return
        message_type = data.get("message_type")
        if message_type is None:
            return
        have = set(MessageTemplate.objects.filter(message_type=message_type).values_list("channel", flat=True))
        missing = [Channel(c).label for c in channels if c not in have]
        if missing:
            self.add_error(
                "channels",
                f"{message_type.name} has no {' or '.join(missing)} template. "
                "Add one in Administration or choose another Contact Method.",
            )


class HistoryFilterForm(forms.Form):
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    message_type = forms.ModelChoiceField(
        label="Message type", queryset=MessageType.objects.all(), required=False, empty_label="All types"
    )
    channel = forms.ChoiceField(label="Channel", choices=[("", "All channels"), *Channel.choices], required=False)
    status = forms.ChoiceField(label="Status", choices=[("", "All statuses"), *Status.choices], required=False)
    bounce = forms.ChoiceField(
        label="Hard/Soft", choices=[("", "Hard or soft"), ("hard", "Hard"), ("soft", "Soft")], required=False
    )
    q = forms.CharField(
        label="Recipient",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, phone or e-mail"}),
    )
    broadcast = forms.IntegerField(label="Broadcast", required=False, min_value=1, widget=forms.HiddenInput)
    # The chart's Messages tab links to History filtered to one client (issue 14 §3).
    client = forms.IntegerField(label="Client", required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "“To” is before “From”.")
        return data

    def filters(self) -> Filters:
        """The valid filters (an invalid field is ignored, and shown with its error)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        message_type = data.get("message_type")
        return Filters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            message_type_id=message_type.pk if message_type else None,
            channel=data.get("channel") or "",
            status=data.get("status") or "",
            bounce=data.get("bounce") or "",
            q=(data.get("q") or "").strip(),
            broadcast_id=data.get("broadcast"),
            client_id=data.get("client"),
        )
