from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from messaging.channels.registry import site_urlpatterns
from messaging.home import today_numbers
from pimsy_messaging.logins import is_portal_user
from pimsy_messaging.staff_login import StaffLoginView
from pimsy_messaging.two_factor import two_factor


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if is_portal_user(request.user):  # a client signed in at the portal: the staff site is not theirs
        return redirect("portal:inbox")
    today = today_numbers() if request.user.has_perm("messaging.view_history") else None
    return render(request, "home.html", {"today": today})


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("favicon.ico"), permanent=True)  # looked up per request: the manifest's name


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = f"PIMSY Messaging administration · {settings.PRACTICE_NAME}"
admin.site.site_title = "PIMSY administration"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin, a PDF, an error page).
    path("favicon.ico", favicon),
    path("accounts/login/", StaffLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", two_factor, name="two-factor"),
    # One login for the staff site and the admin: the staff login (throttled, two-factor, no portal accounts).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("clients/", include("clients.urls")),
    path("messaging/", include("messaging.urls")),
    path("bounces/", include("bounces.urls")),
    path("webhooks/", include("messaging.webhook_urls")),
    path("portal/", include("messaging.portal.urls")),
    # Channels' paths at the root (e-mail: the one-click unsubscribe e-mails link to, anymail's
    # webhooks for the configured ESPs only): ChannelSpec.site_urls.
    *site_urlpatterns(),
]
