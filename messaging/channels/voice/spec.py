"""The voice channel: a Twilio call that speaks the script (or plays the recording), or leaves a voicemail."""

from __future__ import annotations

from messaging.channels.registry import ChannelSpec

SPEC = ChannelSpec(
    kind="voice",
    label="Voice",
    send_label="Send Voice Message",
    transport="messaging.channels.voice.transport.VoiceTransport",
    address_kind="phone",
    # A client who prefers Phone is called at home first; otherwise the cell phone first.
    contact_fields=("cell_phone", "phone"),
    preferred_fields={"phone": ("phone", "cell_phone")},
    staff_fields=("cell", "home"),
    address_noun="phone number",
    preferred_by=("cell", "phone"),
    template_fields=("voice_script", "voice_audio"),
    body_field="voice_script",
    clinical_check_place="voicemail",
    confirm_instructions="To confirm, press 1.",
    preview="messaging.channels.voice.preview.preview",
    explanations="messaging.channels.voice.explanations",
    record="messaging.channels.voice.preview.record",
    stop_time_setting=270,
    redial_setting=266,
    resend_setting=257,
    resend_interval_setting=268,
    restart_setting=271,
    rate_per_second=1.0,
    enabled_setting="TWILIO_ENABLED",
    webhook_urls="messaging.channels.voice.urls",
    preview_rank=2,
    portal_rank=2,
    plural="Voice calls",
    find_accepted="messaging.channels.voice.lookup.find_accepted",
    status_lookup="messaging.channels.voice.lookup",
)
