"""The e-mail channel: anymail or SMTP; tracking webhooks and bounce DSNs come back to it."""

from __future__ import annotations

from messaging.channels.registry import ChannelSpec

SPEC = ChannelSpec(
    kind="email",
    label="Email",
    send_label="Send Email",
    transport="messaging.channels.email.transport.EmailTransport",
    address_kind="email",
    contact_fields=("email",),
    staff_fields=("email",),
    address_noun="e-mail address",
    preferred_by=("email",),
    template_fields=("email_subject", "email_text", "email_html"),
    body_field="email_text",
    subject_field="email_subject",
    clinical_check_place="e-mail subject",
    preview="messaging.channels.email.preview.preview",
    explanations="messaging.channels.email.explanations",
    resend_setting=256,
    resend_interval_setting=258,
    rate_per_second=100.0,
    enabled_setting="EMAIL_ENABLED",
    preview_rank=1,
    portal_rank=0,
    staff_default_rank=0,
    plural="E-mails",
    site_urls="messaging.channels.email.urls",
    ready="messaging.channels.email.setup.ready",
)
