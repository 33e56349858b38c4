"""Text messages through Twilio's Messages API (``client.messages.create``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException

from messaging.channels.base import SendResult, Transport, TransportError, public_url, refusal
from messaging.channels.twilio.client import get_twilio_client
from messaging.channels.twilio.errors import classify_sms_error, from_network_error, from_twilio_exception

if TYPE_CHECKING:
    from twilio.rest import Client

    from messaging.models import Delivery
    from messaging.rendering import Rendered

MAX_BODY = 1600


def twilio_client() -> Client:
    return get_twilio_client(
        account_sid=settings.TWILIO_ACCOUNT_SID,
        auth_token=settings.TWILIO_AUTH_TOKEN,
        api_base=settings.TWILIO_API_BASE or None,
        timeout=settings.TWILIO_TIMEOUT_SECONDS,
    )


def sender_params() -> dict[str, str]:
    """Messaging Service (Twilio picks the sender) or our From number."""
    if settings.TWILIO_MESSAGING_SERVICE_SID:
        return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
    return {"from_": settings.TWILIO_FROM_NUMBER}


class SmsTransport(Transport):
    channel = "sms"

    def send(self, delivery: Delivery, rendered: Rendered) -> SendResult:
        body = (rendered.sms_body or "").strip()
        if not body:
            raise _empty_body()
        params = {
            "to": delivery.address,
            "body": body[:MAX_BODY],
            "status_callback": public_url("webhooks:sms-status", delivery.token),
            **sender_params(),
        }
        try:
            message = twilio_client().messages.create(**params)
        except TwilioRestException as exc:
            raise from_twilio_exception(exc, classify_sms_error) from exc
        except requests.RequestException as exc:
            raise from_network_error(exc) from exc
        return SendResult(
            provider_message_id=message.sid,
            response={"sid": message.sid, "status": message.status, "segments": message.num_segments},
            request={"to": delivery.address, "chars": len(body), "sender": next(iter(sender_params()))},
        )


def _empty_body() -> TransportError:
    return refusal("The SMS template renders to an empty text", "Bad-Configuration", code="empty", ours=True)
