"""The fax channel: an HTTP fax API (Sinch v3 shape) sends a PDF made from the fax text."""

from __future__ import annotations

from messaging.channels.registry import ChannelSpec

SPEC = ChannelSpec(
    kind="fax",
    label="Fax",
    send_label="Send Fax",
    transport="messaging.channels.fax.transport.FaxTransport",
    address_kind="phone",
    contact_fields=("fax",),
    address_noun="fax number",
    preferred_by=("fax",),
    template_fields=("fax_body",),
    body_field="fax_text",
    preview="messaging.channels.fax.preview.preview",
    explanations="messaging.channels.fax.explanations",
    stop_time_setting=273,
    redial_setting=260,
    resend_setting=251,
    resend_interval_setting=262,
    restart_setting=259,
    rate_per_second=1.0,
    enabled_setting="FAX_ENABLED",
    webhook_urls="messaging.channels.fax.urls",
    preview_rank=3,
    portal_rank=3,
    reaches_staff=False,
    plural="Faxes",
    status_lookup="messaging.channels.fax.lookup",
)
