"""Twilio REST resources and create-time checks, shaped like the 2010-04-01 API's answers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any

from messaging.simulators.base import SimError, first, utc_now

API_VERSION = "2010-04-01"
_E164 = re.compile(r"^(?:[a-z]+:)?\+[1-9]\d{6,14}$")
_SENDER = re.compile(r"^(?:\+[1-9]\d{6,14}|\d{3,8}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$")
_CALL_ENDPOINT = re.compile(r"^(?:\+[1-9]\d{6,14}|(?:sip|client):\S+)$")


def twilio_error(status: int, code: int, message: str, headers: Mapping[str, str] | None = None) -> SimError:
    """An error answer in Twilio's legacy JSON shape (what TwilioRestException parses)."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return SimError(status, body, headers)


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def rfc2822_now() -> str:
    return format_datetime(utc_now())


def segments(body: str) -> int:
    """SMS segments: GSM-7 (160, or 153 when split) or UCS-2 (70, or 67 when split)."""
    gsm = all(ord(ch) < 128 for ch in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def rejection(code: int, to: str) -> SimError:
    """A 400 for a destination Twilio refuses at create."""
    messages = {
        21211: f"The 'To' number {to} is not a valid phone number.",
        21610: "Attempt to send to unsubscribed recipient",
    }
    return twilio_error(400, code, messages.get(code, f"Message to {to} rejected"))


def check_message(form: Mapping[str, list[str]]) -> None:
    """Twilio's create-time checks of a message (the opt-out check needs the account state)."""
    to, sender = first(form, "To"), first(form, "From") or first(form, "MessagingServiceSid")
    body = first(form, "Body") or ""
    if not to:
        raise twilio_error(400, 21604, "A 'To' phone number is required.")
    if not _E164.match(to):
        raise rejection(21211, to)
    if not sender:
        raise twilio_error(400, 21603, "A 'From' phone number is required.")
    if first(form, "From") and not _SENDER.match(first(form, "From") or ""):
        raise twilio_error(
            400,
            21606,
            f"The From phone number {first(form, 'From')} is not a valid, SMS-capable "
            "inbound phone number or short code for your account.",
        )
    if not body and not form.get("MediaUrl") and not first(form, "ContentSid"):
        raise twilio_error(400, 21602, "Message body is required.")
    if len(body) > 1600:
        raise twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")


def check_call(form: Mapping[str, list[str]]) -> None:
    """Twilio's create-time checks of a call."""
    to, from_ = first(form, "To"), first(form, "From")
    if not to:
        raise twilio_error(400, 21201, "No 'To' number is specified")
    if not _CALL_ENDPOINT.match(to):
        raise rejection(21211, to)
    if not from_:
        raise twilio_error(400, 21213, "No 'From' number is specified")
    if not _CALL_ENDPOINT.match(from_):
        raise twilio_error(
            400,
            21212,
            f"The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.",
        )
    if not (first(form, "Url") or first(form, "Twiml") or first(form, "ApplicationSid")):
        raise twilio_error(400, 21205, "Url, Twiml or ApplicationSid is required")


def message_resource(account_sid: str, form: Mapping[str, list[str]]) -> dict[str, Any]:
    """A Message resource as the API answers it (status ``queued``, or ``accepted``)."""
    sid, now, body = new_sid("SM"), rfc2822_now(), first(form, "Body") or ""
    base = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": first(form, "From"),
        "messaging_service_sid": first(form, "MessagingServiceSid"),
        "num_media": str(len(form.get("MediaUrl", []))),
        "num_segments": str(segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued" if first(form, "From") else "accepted",
        "subresource_uris": {"media": f"{base}/Media.json"},
        "to": first(form, "To"),
        "uri": f"{base}.json",
    }


def call_resource(account_sid: str, form: Mapping[str, list[str]]) -> dict[str, Any]:
    """A Call resource as the API answers it (status ``queued``)."""
    sid, now = new_sid("CA"), rfc2822_now()
    base = f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}"
    to, from_ = first(form, "To"), first(form, "From")
    return {
        "account_sid": account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": from_,
        "from_formatted": from_,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {"recordings": f"{base}/Recordings.json"},
        "to": to,
        "to_formatted": to,
        "trunk_sid": None,
        "uri": f"{base}.json",
    }
