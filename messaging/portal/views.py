"""The minimal client portal: log in, list the messages the practice sent, read one.

Shown only while setting 620 (CLIENT PORTAL - CLIENT MESSAGING) is Yes; otherwise every portal
URL answers 404, so nothing of it is visible. Portal users are clients (``PortalAccount``), not
staff: they have no staff permissions and see only their own messages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from core.access import access_log
from core.models import AccessKind
from messaging.portal.selectors import (
    account_for,
    inbox,
    mark_read,
    message_for,
    message_text,
    portal_exposed,
    portal_users_with_email,
)


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 while the portal is not exposed; the login page for anonymous visitors; 403 for staff."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not portal_exposed():
            raise Http404("The client portal is not available.")
        if not request.user.is_authenticated:
            return redirect(f"{reverse('portal:login')}?next={request.path}")
        account = account_for(request.user)
        if account is None:
            raise PermissionDenied("This login has no client portal account.")
        request.portal_account = account  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


class PortalLoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if account_for(user) is None:
            raise forms.ValidationError("This is not a client portal login.", code="not_portal")


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not portal_exposed():
            raise Http404("The client portal is not available.")
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse("portal:inbox")


@portal_view
def portal_inbox(request: HttpRequest) -> HttpResponse:
    account = request.portal_account  # type: ignore[attr-defined]
    items = inbox(account)
    access_log(request, kind=AccessKind.PORTAL_INBOX, client_id=account.client_id, rows=len(items))
    return render(request, "portal/inbox.html", {"account": account, "items": items})


@portal_view
def portal_message(request: HttpRequest, pk: int) -> HttpResponse:
    account = request.portal_account  # type: ignore[attr-defined]
    delivery = message_for(account, pk)
    if delivery is None:
        raise Http404("No such message.")
    mark_read(account=account, delivery=delivery)
    access_log(request, kind=AccessKind.PORTAL_MESSAGE, object_ids=[pk], client_id=account.client_id, rows=1)
    return render(
        request, "portal/message.html", {"account": account, "delivery": delivery, "text": message_text(delivery)}
    )


class PortalPasswordChangeView(auth_views.PasswordChangeView):
    """Changing the portal password sends the Portal Password Change message (setting 371)."""

    template_name = "portal/password.html"
    success_url = reverse_lazy("portal:inbox")

    def form_valid(self, form: Any) -> HttpResponse:
        from messaging.automation import send_portal_password_change

        response = super().form_valid(form)
        send_portal_password_change(client=self.request.portal_account.client)  # type: ignore[attr-defined]
        messages.success(self.request, "Your password was changed.")
        return response


portal_password = portal_view(PortalPasswordChangeView.as_view())


# --- Forgot password ------------------------------------------------------------------------------


class _ExposedOnly:
    """404 while setting 620 hides the portal (the forgotten-password pages too)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not portal_exposed():
            raise Http404("The client portal is not available.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class PortalPasswordResetForm(auth_forms.PasswordResetForm):
    """Finds portal logins only (never a staff account) by the login's or the client's e-mail."""

    def get_users(self, email: str) -> Any:
        return portal_users_with_email(email)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: Any,
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """To the address the client typed (it is on file: the login's or the chart's e-mail)."""
        super().send_mail(
            subject_template_name,
            email_template_name,
            context,
            from_email,
            self.cleaned_data["email"],
            html_email_template_name=html_email_template_name,
        )


class PortalPasswordResetView(_ExposedOnly, auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    email_template_name = "portal/password_reset_email.txt"
    subject_template_name = "portal/password_reset_subject.txt"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("portal:password_reset_done")


class PortalPasswordResetDoneView(_ExposedOnly, auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class PortalPasswordResetConfirmView(_ExposedOnly, auth_views.PasswordResetConfirmView):
    """Choosing the new password sends the Portal Password Change message (setting 371), as a
    change does: a client who did not ask for it learns at once."""

    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:login")

    def form_valid(self, form: Any) -> HttpResponse:
        from messaging.automation import send_portal_password_change

        response = super().form_valid(form)
        account = account_for(form.user)
        if account is not None:
            send_portal_password_change(client=account.client)
        messages.success(self.request, "Your password was changed. Log in with the new password.")
        return response


@require_POST
def portal_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    if not portal_exposed():
        raise Http404("The client portal is not available.")
    return redirect("portal:login")
