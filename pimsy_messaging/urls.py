from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path

from messaging.channels.email.unsubscribe import unsubscribe as email_unsubscribe


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = f"PIMSY Messaging administration · {settings.PRACTICE_NAME}"
admin.site.site_title = "PIMSY administration"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("clients/", include("clients.urls")),
    path("messaging/", include("messaging.urls")),
    path("bounces/", include("bounces.urls")),
    # The e-mail channel's one-click unsubscribe, at the address e-mails already sent link to.
    path("bounces/unsubscribe/<str:token>/", email_unsubscribe, name="email-unsubscribe"),
    path("webhooks/", include("messaging.webhook_urls")),
    path("portal/", include("messaging.portal.urls")),
    path("anymail/", include("anymail.urls")),
]
