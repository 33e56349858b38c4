from __future__ import annotations

from django import forms

from clients.models import Client, MessagingContact, MessagingProfile, VoicemailChoice
from clients.services import AUDITED_CONTACT_FIELDS

YES_NO = [(True, "Yes"), (False, "No")]


def _yes_no() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=YES_NO, coerce=lambda v: v in (True, "True", "true", "1"), widget=forms.RadioSelect
    )


class MessagingProfileForm(forms.ModelForm):
    consent_given = _yes_no()
    use_client_detail_info = _yes_no()
    # Clinic default (a messaging setting, Yes unless changed), or the client's own Yes / No.
    voicemail_ok = forms.ChoiceField(choices=VoicemailChoice.choices, widget=forms.RadioSelect)

    class Meta:
        model = MessagingProfile
        fields = ["consent_given", "preferred_contact_method", "use_client_detail_info", "voicemail_ok"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent_given"].label = "Messaging Consent Given"
        self.fields["use_client_detail_info"].label = "Use Client Detail Info."
        self.fields["voicemail_ok"].label = "OK to leave voicemail"


class ContactInfoForm(forms.ModelForm):
    """The chart's basic contact information (phones and fax parsed to E.164)."""

    class Meta:
        model = Client
        fields = [*AUDITED_CONTACT_FIELDS, "time_zone", "preferred_language"]  # contacts are audited


class MessagingContactForm(forms.ModelForm):
    class Meta:
        model = MessagingContact
        fields = [
            "name",
            "relationship",
            "phone",
            "cell_phone",
            "email",
            "fax",
            "address_line1",
            "city",
            "state",
            "postal_code",
        ]
