"""The SMS channel's webhooks (mounted under /webhooks/ by ``messaging.webhook_urls``)."""

from __future__ import annotations

from django.urls import path

from messaging.channels.sms import inbound, webhooks

urlpatterns = [
    path("twilio/sms/inbound/", inbound.sms_inbound, name="twilio-sms-inbound"),
    path("twilio/sms/<str:token>/status", webhooks.sms_status, name="sms-status"),
]
