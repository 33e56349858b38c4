"""Forms of the Do-Not-Send list and the failure summary."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from bounces.models import DnsChannel, DnsReason
from bounces.services import normalise_address

ANY = [("", "All")]


class DnsFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=254)
    channel = forms.ChoiceField(label="Channel", choices=ANY + list(DnsChannel.choices), required=False)
    reason = forms.ChoiceField(label="Reason", choices=ANY + list(DnsReason.choices), required=False)
    show_removed = forms.BooleanField(label="Show removed and expired entries", required=False)


class DnsAddForm(forms.Form):
    """Staff entry: an address on one channel, or a whole e-mail domain."""

    channel = forms.ChoiceField(label="Channel", choices=DnsChannel.choices, initial=DnsChannel.EMAIL)
    address = forms.CharField(
        label="Address",
        max_length=254,
        help_text="E-mail address, phone or fax number, or @domain for a whole e-mail domain.",
    )
    is_domain = forms.BooleanField(label="Whole domain", required=False)
    note = forms.CharField(label="Note", max_length=255, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel, address = data.get("channel"), data.get("address")
        if not channel or not address:
            return data
        is_domain = bool(data.get("is_domain")) or (DnsChannel.holds_email(channel) and address.strip().startswith("@"))
        try:
            data["address"] = normalise_address(channel=channel, address=address, is_domain=is_domain, strict=True)
        except ValidationError as exc:
            self.add_error("address", exc)
        data["is_domain"] = is_domain
        return data


class DnsRemoveForm(forms.Form):
    reason = forms.CharField(
        label="Reason for removal",
        max_length=255,
        help_text="Required: recorded with the entry (e.g. “Client confirmed new address by phone”).",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Give a reason for removing this entry.")
        return reason
