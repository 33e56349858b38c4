"""The e-mail channel's paths at the site's root (``ChannelSpec.site_urls``).

- ``/bounces/unsubscribe/<token>/``: the one-click unsubscribe, at the address e-mails already sent
  link to (:mod:`messaging.channels.email.unsubscribe`);
- ``/anymail/``: anymail's ESP webhooks, only the configured ESPs', each failing closed
  (:mod:`messaging.channels.email.anymail_urls`).
"""

from __future__ import annotations

from django.urls import include, path

from messaging.channels.email.unsubscribe import unsubscribe

urlpatterns = [
    path("bounces/unsubscribe/<str:token>/", unsubscribe, name="email-unsubscribe"),
    path("anymail/", include("messaging.channels.email.anymail_urls")),
]
