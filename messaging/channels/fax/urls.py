"""The fax channel's webhook (mounted under /webhooks/ by ``messaging.webhook_urls``)."""

from __future__ import annotations

from django.urls import path

from messaging.channels.fax import webhooks

urlpatterns = [
    path("fax/<str:token>/", webhooks.fax_status, name="fax-status"),
]
