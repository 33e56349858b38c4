"""Delivering a portal message: the inbox is the provider.

A portal message is "sent" by making it readable in the client's portal inbox, which lists the
client's delivered portal deliveries (``messaging.portal.selectors``), so the delivery's own row is
the message and the dispatcher's write-back publishes it. What this transport checks first is what
a provider would refuse: the portal switched off (setting 620, our configuration) or a client with
no active portal account (a hard bounce, Bad-Mailbox: the "mailbox" does not exist). Then it asks
for the notice by the client's preferred channel (:mod:`.notice`), which is idempotent on the
delivery, so a restarted send never announces a message twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.channels.base import SendResult, Transport, refusal
from messaging.channels.portal.notice import announce
from messaging.portal.selectors import has_active_account, portal_exposed

if TYPE_CHECKING:
    from messaging.models import Delivery
    from messaging.rendering import Rendered

NO_ACCOUNT = "The client has no active portal account"


class PortalTransport(Transport):
    channel = "portal"

    def send(self, delivery: Delivery, rendered: Rendered) -> SendResult:
        if not portal_exposed():
            raise refusal(
                "The client portal is switched off (setting 620)", "Bad-Configuration", code="portal-off", ours=True
            )
        if not (rendered.email_subject.strip() and rendered.email_text.strip()):
            raise refusal("The portal template renders to an empty subject or text", "Bad-Configuration", ours=True)
        if delivery.client_id is None or not has_active_account(delivery.client_id):
            raise refusal(NO_ACCOUNT, "Bad-Mailbox", code="no-account")
        notices = announce(delivery)
        return SendResult(
            provider_message_id=f"portal-{delivery.pk}",
            status="delivered",
            request={"inbox": "portal"},
            response={"notices": notices},
        )
