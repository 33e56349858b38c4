"""The SMS channel: a Twilio text message; replies (confirm, cancel, STOP/START/HELP) come back to it."""

from __future__ import annotations

from messaging.channels.registry import ChannelSpec

SPEC = ChannelSpec(
    kind="sms",
    label="Text (SMS)",
    send_label="Send Text Message",
    transport="messaging.channels.sms.transport.SmsTransport",
    address_kind="phone",
    contact_fields=("cell_phone",),
    staff_fields=("cell",),
    address_noun="cell phone number",
    preferred_by=("text",),
    opted_out_flag="sms_opted_out",
    opted_out_reason="Replied STOP to texts",
    template_fields=("sms_body",),
    body_field="sms_body",
    clinical_check_place="text message",
    confirm_instructions="Reply C to confirm or N to cancel.",
    preview="messaging.channels.sms.preview.preview",
    explanations="messaging.channels.sms.explanations",
    record="messaging.channels.sms.preview.record",
    stop_time_setting=272,
    rate_per_second=50.0,
    enabled_setting="TWILIO_ENABLED",
    webhook_urls="messaging.channels.sms.urls",
    preview_rank=0,
    portal_rank=1,
    staff_default_rank=1,
    plural="Text messages",
    find_accepted="messaging.channels.sms.lookup.find_accepted",
    status_lookup="messaging.channels.sms.lookup",
)
