"""The staff login: Django's login plus, for who set it up, the authenticator app's code; never a client's.

Client portal accounts are refused (clients sign in at the portal). A user with a confirmed authenticator
app (``pimsy_messaging.two_factor``) must enter its current code with the password; the session is then
verified (django-otp). Throttling and lockout happen before, in django-axes' backend.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView

from pimsy_messaging.logins import is_portal_user
from pimsy_messaging.two_factor import confirmed_devices, matching_device

log = logging.getLogger(__name__)


class StaffAuthenticationForm(AuthenticationForm):
    otp_token = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=16,
        help_text="Only if you set up two-factor sign-in: the 6-digit code your authenticator app shows.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "portal_account": "This is a client portal login. Please sign in at the client portal instead.",
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That authentication code is not right (or was used already). Enter the current code.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if is_portal_user(user):
            raise forms.ValidationError(self.error_messages["portal_account"], code="portal_account")
        if not confirmed_devices(user):
            return
        code = self.cleaned_data.get("otp_token") or ""
        if not code.strip():
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = matching_device(user, code)
        if device is None:
            log.warning("Login failed: user id %s gave a wrong authentication code", user.pk)
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        user.otp_device = device  # django-otp marks the session verified when the user is logged in


class StaffLoginView(LoginView):
    authentication_form = StaffAuthenticationForm
