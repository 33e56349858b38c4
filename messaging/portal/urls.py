"""Client portal URLs (mounted at /portal/ by pimsy_messaging/urls.py)."""

from __future__ import annotations

from django.urls import path

from messaging.portal import views as portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.portal_inbox, name="inbox"),
    path("messages/<int:pk>/", portal_views.portal_message, name="message"),
    path("login/", portal_views.PortalLoginView.as_view(), name="login"),
    path("logout/", portal_views.portal_logout, name="logout"),
    path("password/", portal_views.portal_password, name="password"),
    path("password/forgot/", portal_views.PortalPasswordResetView.as_view(), name="password_reset"),
    path("password/forgot/sent/", portal_views.PortalPasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        portal_views.PortalPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
]
