"""Twilio's inbound-SMS webhook (`POST /webhooks/twilio/sms/inbound/`): authenticate, read Twilio's
fields (:mod:`.keywords`), hand the text to messaging's one handler, answer with TwiML."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse

from messaging.channels.sms.keywords import InboundError, parse_twilio_inbound
from messaging.channels.twilio.webhooks import twilio_signature_required
from messaging.inbound import handle_inbound_text


@csrf_exempt
@require_POST
@twilio_signature_required
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """A client's text to our number. 400 (nothing stored) for data that is not an inbound text."""
    try:
        text = parse_twilio_inbound(request.POST)
    except InboundError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    result = handle_inbound_text(text)
    response = MessagingResponse()
    if result.reply:
        response.message(result.reply)
    return HttpResponse(str(response), content_type="text/xml")
