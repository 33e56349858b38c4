"""Inbound-SMS webhook URL (included under /webhooks/ by pimsy_messaging/urls.py)."""

from __future__ import annotations

from django.urls import path

from messaging import inbound_views

urlpatterns = [
    path("twilio/sms/inbound/", inbound_views.twilio_sms_inbound, name="twilio-sms-inbound"),
]
