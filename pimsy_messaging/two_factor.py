"""Two-factor sign-in (TOTP, django-otp) for staff: optional, required for superusers in production.

A staff user who set up an authenticator app (Account › Two-factor sign-in, ``/accounts/two-factor/``)
enters its 6-digit code with the password at the staff login (``pimsy_messaging.staff_login``); the admin's
login sends to the staff login, so there is no way around it. Where ``OTP_REQUIRED_FOR_SUPERUSERS``
is on (production), ``RequireSuperuserTwoFactorMiddleware`` sends a superuser whose session was not
verified by a code to that page until they have entered one. A superuser's app is set up from the
server (``manage.py enrol_two_factor``, which prints the key): the page never shows a superuser a key,
so a stolen password alone cannot set up an app and pass.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from pimsy_messaging.logins import is_portal_user

DEVICE_NAME = "Authenticator app"
ADMIN_SETS_UP = (
    "A superuser's authenticator app is set up by an administrator on the server "
    "(python manage.py enrol_two_factor USERNAME), who gives you its key in person."
)
PAGE = "registration/two_factor.html"


def confirmed_devices(user: Any) -> list[TOTPDevice]:
    return list(TOTPDevice.objects.filter(user=user, confirmed=True))


def verify(device: TOTPDevice, code: str) -> bool:
    """The code is the device's current one (not used before); failures slow further tries down."""
    code = "".join(code.split())
    allowed, _ = device.verify_is_allowed()
    return bool(allowed and code.isdigit() and device.verify_token(code))


def matching_device(user: Any, code: str) -> TOTPDevice | None:
    return next((d for d in confirmed_devices(user) if verify(d, code)), None)


def required_for(user: Any) -> bool:
    return bool(settings.OTP_REQUIRED_FOR_SUPERUSERS and getattr(user, "is_superuser", False))


def _qr_svg(device: TOTPDevice) -> str:
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :] if "<svg" in svg else ""


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up, confirm, verify with, or turn off the user's authenticator app."""
    user = request.user
    if is_portal_user(user):
        raise PermissionDenied("Two-factor sign-in is for staff.")
    action = request.POST.get("action", "") if request.method == "POST" else ""
    confirmed = confirmed_devices(user)
    if action == "start" and not confirmed:
        if required_for(user):  # the key would go to whoever holds the password: set up from the server
            messages.error(request, ADMIN_SETS_UP)
            return redirect("two-factor")
        with transaction.atomic():
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
        return redirect("two-factor")
    if action in ("confirm", "verify"):
        return _check_code(request, action)
    if action == "remove" and confirmed:
        if required_for(user):
            messages.error(request, "Superusers must keep two-factor sign-in.")
        elif user.is_verified():  # type: ignore[union-attr]
            TOTPDevice.objects.filter(user=user).delete()
            messages.success(request, "Two-factor sign-in is off.")
        return redirect("two-factor")
    pending = None if confirmed else TOTPDevice.objects.filter(user=user, confirmed=False).first()
    shown = pending if pending is not None and not required_for(user) else None  # a superuser's key: never here
    context = {
        "confirmed": bool(confirmed),
        "verified": user.is_verified(),  # type: ignore[union-attr]
        "required": required_for(user),
        "pending": pending,
        "qr_svg": _qr_svg(shown) if shown is not None else "",
        "secret": _spaced(shown.config_url) if shown is not None else "",
    }
    return render(request, PAGE, context)


def _spaced(config_url: str) -> str:
    """The secret of an otpauth:// URL in groups of four, for typing into an app by hand."""
    secret = config_url.split("secret=", 1)[1].split("&", 1)[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _check_code(request: HttpRequest, action: str) -> HttpResponse:
    user = request.user
    code = request.POST.get("code", "")
    if action == "confirm":
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is not None and verify(device, code):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            django_otp.login(request, device)
            messages.success(request, "Two-factor sign-in is on. Enter a code from the app each time you sign in.")
            return redirect("home")
    else:
        device = matching_device(user, code)
        if device is not None:
            django_otp.login(request, device)
            return redirect("home")
    messages.error(
        request, "That code is not right, or was used already. Wait a moment, then enter the app's current code."
    )
    return redirect("two-factor")


class RequireSuperuserTwoFactorMiddleware:
    """Where required, a superuser's session must be verified by a code before anything but the
    two-factor page, logging out and static files."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and required_for(user) and user.is_authenticated and not user.is_verified():
            allowed = (reverse("two-factor"), reverse("logout"), "/" + settings.STATIC_URL.lstrip("/"))
            if not request.path.startswith(allowed):
                return redirect("two-factor")
        return self.get_response(request)
