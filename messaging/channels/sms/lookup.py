"""Asking Twilio about a text: whether it already has one whose create timed out
(``ChannelSpec.find_accepted``), and its current state when the status callback is overdue
(``ChannelSpec.status_lookup``: :func:`fetch_status`, :func:`apply_status`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from messaging.channels.sms.transport import MAX_BODY, twilio_client
from messaging.channels.twilio.lookup import NEWEST, first_match, known_sids, twilio_fetch

if TYPE_CHECKING:
    from messaging.models import Delivery


def find_accepted(delivery: Delivery, since: dt.datetime) -> str:
    """The SID of a message Twilio has for ``delivery`` (same number and text, created since), or ""."""
    parts = delivery.content.parts if delivery.content_id else {}
    body = str(parts.get("sms_body") or "").strip()[:MAX_BODY]
    messages = twilio_client().messages.list(to=delivery.address, limit=NEWEST)
    return first_match(messages, since=since, known=known_sids, same=lambda m: (m.body or "").strip() == body)


def fetch_status(sid: str) -> dict[str, Any]:
    """Twilio's Messages fetch, as the status callback's fields (network only)."""
    message = twilio_fetch(lambda: twilio_client().messages(sid).fetch())
    return {"MessageSid": sid, "MessageStatus": str(message.status or ""), "ErrorCode": message.error_code}


def apply_status(delivery_id: int, sid: str, answer: dict[str, Any]) -> bool:
    """Apply a final state as the status callback would, with its event id; False while in flight."""
    from messaging.channels.sms.webhooks import MESSAGE_STATUSES
    from messaging.channels.twilio.errors import classify_sms_error
    from messaging.models import Status
    from messaging.outcomes import delivery_apply_status

    twilio_status = answer["MessageStatus"].lower()
    status = MESSAGE_STATUSES.get(twilio_status)
    if status is None or status in (Status.SENDING, Status.SENT):
        return False
    classification = None
    if status == Status.FAILED:
        classification = classify_sms_error(answer.get("ErrorCode") or "30008")
    return delivery_apply_status(
        delivery_id=delivery_id,
        status=status,
        provider="twilio",
        event_id=f"{sid}:{twilio_status}",  # the callback's id: whichever comes second is a duplicate
        event_type=f"sms-{twilio_status}",
        payload={**answer, "source": "reconciliation"},
        classification=classification,
        provider_message_id=sid,
    )
