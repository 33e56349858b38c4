"""Twilio message status callbacks: ``POST /webhooks/twilio/sms/<token>/status``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from messaging.channels.twilio.errors import classify_sms_error
from messaging.channels.twilio.webhooks import twilio_signature_required
from messaging.channels.webhook_support import delivery_for_status_callback, form_payload, ok
from messaging.models import Status
from messaging.outcomes import delivery_apply_status

# Twilio MessageStatus -> our status. The initial statuses say nothing new (the row is already
# "sending"/"sent"): recorded, never applied backwards.
MESSAGE_STATUSES = {
    "accepted": Status.SENDING,
    "scheduled": Status.SENDING,
    "queued": Status.SENDING,
    "sending": Status.SENDING,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.CANCELLED,
}


@require_POST
@twilio_signature_required
def sms_status(request: HttpRequest, token: str) -> HttpResponse:
    delivery = delivery_for_status_callback(token, "sms")
    message_sid = request.POST.get("MessageSid", "")
    twilio_status = request.POST.get("MessageStatus", "").lower()
    status = MESSAGE_STATUSES.get(twilio_status)
    if delivery is None or not message_sid or status is None:
        return ok()
    classification = None
    if status == Status.FAILED:
        classification = classify_sms_error(request.POST.get("ErrorCode") or "30008")
    delivery_apply_status(
        delivery_id=delivery.pk,
        status=status,
        provider="twilio",
        event_id=f"{message_sid}:{twilio_status}",
        event_type=f"sms-{twilio_status}",
        payload=form_payload(request.POST),
        classification=classification,
        provider_message_id=message_sid,
        seen=delivery,
    )
    return ok()
