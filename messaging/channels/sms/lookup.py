"""Whether Twilio already has a text whose create timed out (``ChannelSpec.find_accepted``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from messaging.channels.sms.transport import MAX_BODY, twilio_client
from messaging.channels.twilio.lookup import NEWEST, first_match, known_sids

if TYPE_CHECKING:
    from messaging.models import Delivery


def find_accepted(delivery: Delivery, since: dt.datetime) -> str:
    """The SID of a message Twilio has for ``delivery`` (same number and text, created since), or ""."""
    parts = delivery.content.parts if delivery.content_id else {}
    body = str(parts.get("sms_body") or "").strip()[:MAX_BODY]
    messages = twilio_client().messages.list(to=delivery.address, limit=NEWEST)
    return first_match(messages, since=since, known=known_sids, same=lambda m: (m.body or "").strip() == body)
