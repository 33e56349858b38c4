"""Asking Twilio about a call: whether it already has one whose create timed out
(``ChannelSpec.find_accepted``), and its current state when the status callback is overdue
(``ChannelSpec.status_lookup``: :func:`fetch_status`, :func:`apply_status`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from messaging.channels.sms.transport import twilio_client
from messaging.channels.twilio.lookup import NEWEST, first_match, known_sids, twilio_fetch

if TYPE_CHECKING:
    from messaging.models import Delivery


def find_accepted(delivery: Delivery, since: dt.datetime) -> str:
    """The SID of a call Twilio has to ``delivery``'s number, created since and not ours yet, or ""."""
    calls = twilio_client().calls.list(to=delivery.address, limit=NEWEST)
    return first_match(calls, since=since, known=known_sids, same=lambda call: True)


def fetch_status(sid: str) -> dict[str, Any]:
    """Twilio's Calls fetch, as the status callback's fields (network only)."""
    call = twilio_fetch(lambda: twilio_client().calls(sid).fetch())
    return {"CallSid": sid, "CallStatus": str(call.status or ""), "AnsweredBy": str(call.answered_by or "")}


def apply_status(delivery_id: int, sid: str, answer: dict[str, Any]) -> bool:
    """Apply a finished call as the status webhook would, with its event id; False while in flight."""
    from django.db import transaction

    from messaging.channels.voice.webhooks import IN_PROGRESS, VOICEMAIL_NOT_ALLOWED, call_outcome
    from messaging.models import Delivery, Status
    from messaging.outcomes import delivery_apply_status

    call_status = answer["CallStatus"].lower()
    if not call_status or call_status in IN_PROGRESS:
        return False
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return False
    status, classification, redial = call_outcome(delivery, call_status, answer["AnsweredBy"])
    with transaction.atomic():  # as the status webhook (messaging.channels.voice.webhooks.voice_status)
        changed = delivery_apply_status(
            delivery_id=delivery_id,
            status=status,
            provider="twilio",
            event_id=f"{sid}:{call_status}",
            event_type=f"call-{call_status}",
            payload={**answer, "source": "reconciliation"},
            classification=classification,
            provider_message_id=sid,
            redial=redial,
        )
        if changed and status == Status.SUPPRESSED:
            Delivery.objects.filter(pk=delivery_id, status=Status.SUPPRESSED).update(
                status_reason=VOICEMAIL_NOT_ALLOWED, bounce_category="", hard_bounce=None
            )
    return changed
