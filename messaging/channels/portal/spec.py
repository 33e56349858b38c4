"""The portal channel: a secure message in the client portal's inbox, announced without PHI.

The content goes only to the portal inbox (``messaging.portal``); the client's preferred channel
carries a notice that a message is waiting and nothing else (:mod:`.notice`). Offered on the New
tab while setting 620 (CLIENT PORTAL - CLIENT MESSAGING) is Yes.
"""

from __future__ import annotations

from messaging.channels.registry import ChannelSpec

SPEC = ChannelSpec(
    kind="portal",
    label="Portal message",
    send_label="Send Portal Message",
    transport="messaging.channels.portal.transport.PortalTransport",
    address_kind="portal",
    # The client's own portal login, whatever Use Client Detail Info. says: an alternate contact
    # cannot read the client's portal.
    address_field="portal_login",
    address_path="portal_account__user__username",
    address_noun="client portal account",
    no_address_reason="No client portal account",
    template_fields=("email_subject", "email_text"),
    body_field="email_text",
    subject_field="email_subject",
    preview="messaging.channels.portal.preview.preview",
    explanations="messaging.channels.portal.explanations",
    offered_setting=620,
    preview_rank=4,
    portal_rank=4,  # the inbox shows this copy first all the same (messaging.portal.selectors)
    reaches_staff=False,
    plural="Portal messages",
)
