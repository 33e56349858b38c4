"""Provider webhooks (mounted at ``/webhooks/``). Each URL carries the delivery's unguessable token."""

from __future__ import annotations

from django.urls import path

from messaging.channels.fax import webhooks as fax
from messaging.channels.sms import webhooks as sms
from messaging.channels.voice import webhooks as voice

app_name = "webhooks"
urlpatterns = [
    path("twilio/sms/<str:token>/status", sms.sms_status, name="sms-status"),
    path("twilio/voice/<str:token>/status", voice.voice_status, name="voice-status"),
    path("twilio/voice/<str:token>/twiml", voice.voice_twiml, name="voice-twiml"),
    path("twilio/voice/<str:token>/gather", voice.voice_gather, name="voice-gather"),
    path("voice/audio/<str:signed>/", voice.voice_audio, name="voice-audio"),
    path("fax/<str:token>/", fax.fax_status, name="fax-status"),
]
