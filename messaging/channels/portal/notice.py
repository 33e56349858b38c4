"""The notice that a portal message is waiting: by the client's preferred channel, without PHI.

It is the automated message type ``portal-message-notice`` (its templates say only that a secure
message is waiting and where to read it: no name, no appointment, no content), sent with the
planner's checks (consent, address, Do-Not-Send, quiet hours by the notice's own channel). Keyed on
the portal delivery, so asking twice writes one notice per channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.automation.services import send_client_message
from messaging.automation.specs import PORTAL_NOTICE

if TYPE_CHECKING:
    from messaging.models import Delivery


def announce(delivery: Delivery) -> list[str]:
    """Write (once) the notice of ``delivery`` by the client's preferred channels; their channels."""
    rows = send_client_message(code=PORTAL_NOTICE, client=delivery.client, idempotency_key=f"portal-{delivery.pk}")
    return sorted({row.channel for row in rows})
