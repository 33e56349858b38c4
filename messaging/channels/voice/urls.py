"""The voice channel's webhooks (mounted under /webhooks/ by ``messaging.webhook_urls``)."""

from __future__ import annotations

from django.urls import path

from messaging.channels.voice import webhooks

urlpatterns = [
    path("twilio/voice/<str:token>/status", webhooks.voice_status, name="voice-status"),
    path("twilio/voice/<str:token>/twiml", webhooks.voice_twiml, name="voice-twiml"),
    path("twilio/voice/<str:token>/gather", webhooks.voice_gather, name="voice-gather"),
    path("voice/audio/<str:signed>/", webhooks.voice_audio, name="voice-audio"),
]
