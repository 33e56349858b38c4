"""Bounce e-mails (DSNs) from self-hosted SMTP, received through anymail's ``inbound`` signal.

With plain SMTP, failures come back as bounce messages to our envelope sender. Route that
mailbox to an ESP's inbound webhook (``/anymail/<esp>/inbound/``) — or pipe / poll it into
:func:`dsn_ingest_bytes` — and each failed recipient is matched to its delivery and applied like
a tracking event:

1. the original message's ``X-PIMSY-Delivery`` header (the delivery's token; added to every
   outgoing e-mail by ``messaging.channels.email.transport``),
2. else its ``Message-ID`` (``Delivery.provider_message_id``),
3. else the most recent e-mail delivery to that recipient within ``DSN_MATCH_DAYS`` days.

Messages that are not bounces are left alone (another receiver may want them).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from bounces.services import bounce_reason_for, dns_add
from bounces.taxonomy import Classification
from core import clock
from messaging.channels.email.dsn import DsnFailure, parse_dsn
from messaging.channels.email.tracking import delivery_by_message_id, delivery_by_reference
from messaging.models import Delivery, ProviderEvent
from messaging.outcomes import delivery_apply_status

logger = logging.getLogger(__name__)

DELIVERY_HEADER = "X-PIMSY-Delivery"
_BOUNCE_SENDER_RE = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|delivery (status|failure|has failed)|returned mail|failure notice|could not be delivered"
    r"|delivery notification|mail delivery failed|nondeliver|delayed mail|warning: message",
    re.I,
)


@dataclass(frozen=True)
class OriginalReference:
    """What the bounce quotes of our original message."""

    token: str = ""
    message_id: str = ""


def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Receiver for ``anymail.signals.inbound`` (connected in ``MessagingConfig.ready``)."""
    message = getattr(event, "message", None)
    if message is None:
        return
    provider = "dsn:" + esp_name.strip().lower().replace(" ", "_")
    dsn_ingest(message=message, provider=provider, message_key=str(event.event_id or ""))


def dsn_ingest_bytes(raw: bytes, *, provider: str = "dsn:smtp") -> int:
    """Apply a raw bounce message (a mailbox poll, or an MTA pipe); returns recipients applied."""
    message = message_from_bytes(raw, policy=policy.compat32)
    return dsn_ingest(message=message, provider=provider, message_key="")


def is_bounce_message(message: Message) -> bool:
    if message.get_content_type() == "multipart/report":
        return True
    if (message.get("Return-Path") or "").strip() == "<>":
        return True
    sender = str(message.get("From") or "")
    subject = str(message.get("Subject") or "")
    return bool(_BOUNCE_SENDER_RE.search(sender) or _BOUNCE_SUBJECT_RE.search(subject))


def dsn_ingest(*, message: Message, provider: str, message_key: str = "") -> int:
    """Apply each failed recipient of a bounce message once; returns how many were new."""
    if not is_bounce_message(message):
        return 0
    failures = parse_dsn(message)
    if not failures:
        return 0
    reference = original_reference(message)
    base = message_key or str(message.get("Message-ID") or "").strip() or _digest(message)
    applied = 0
    for failure in failures:
        key = f"{base}:{failure.recipient.lower()}"
        key = key if len(key) <= 200 else "k-" + hashlib.sha256(key.encode()).hexdigest()
        if _apply_failure(failure, reference=reference, provider=provider[:32], key=key):
            applied += 1
    return applied


def _digest(message: Message) -> str:
    try:
        data = message.as_bytes()
    except Exception:  # a malformed message still gets a stable key
        data = str(message).encode("utf-8", "replace")
    return "h-" + hashlib.sha256(data).hexdigest()[:40]


# --- The original message ----------------------------------------------------------------------


def original_reference(message: Message) -> OriginalReference:
    """Our token and Message-ID from the quoted original (message/rfc822 or text/rfc822-headers)."""
    for headers in _quoted_headers(message):
        token = str(headers.get(DELIVERY_HEADER) or "").strip()
        message_id = str(headers.get("Message-ID") or "").strip()
        if token or message_id:
            return OriginalReference(token=token, message_id=message_id)
    return OriginalReference()


def _quoted_headers(message: Message) -> list[Message]:
    found: list[Message] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found.append(inner)
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            found.append(HeaderParser().parsestr(text.decode("utf-8", "replace")))
    return found


# --- Matching and applying --------------------------------------------------------------------------


def delivery_for_failure(failure: DsnFailure, reference: OriginalReference) -> Delivery | None:
    recipient = failure.recipient.strip().lower()
    if reference.token:
        delivery = delivery_by_reference(reference.token)
        if delivery is not None and delivery.address.lower() == recipient:
            return delivery
    if reference.message_id:
        delivery = delivery_by_message_id(reference.message_id, recipient=recipient)
        if delivery is not None and delivery.address.lower() == recipient:
            return delivery
    return recent_delivery_to(recipient)


def recent_delivery_to(recipient: str) -> Delivery | None:
    since = clock.now() - timedelta(days=int(getattr(settings, "DSN_MATCH_DAYS", 7)))
    return (
        Delivery.objects.filter(channel="email", address__iexact=recipient, sent_at__gte=since)
        .exclude(sent_at__isnull=True)
        .order_by("-sent_at", "-id")
        .first()
    )


def classification_of(failure: DsnFailure) -> Classification:
    reason = failure.reason or " ".join(x for x in (failure.status, failure.diagnostic) if x)
    return Classification(category=failure.category, hard=failure.hard, reason=reason[:255], ours=failure.ours)


def _apply_failure(failure: DsnFailure, *, reference: OriginalReference, provider: str, key: str) -> bool:
    if ProviderEvent.objects.filter(provider=provider, event_id=key).exists():
        return False
    classification = classification_of(failure)
    delayed = failure.action.lower().startswith("delay")
    payload = {
        "recipient": failure.recipient,
        "action": failure.action,
        "status": failure.status,
        "diagnostic": failure.diagnostic[:1000],
        "original_message_id": reference.message_id,
    }
    delivery = delivery_for_failure(failure, reference)
    if delivery is None:
        _, created = ProviderEvent.objects.get_or_create(
            provider=provider, event_id=key, defaults={"event_type": "dsn", "status": "unmatched", "payload": payload}
        )
        if created and not delayed:
            _unmatched_hard_bounce(failure.recipient, classification)
        return created
    delivery_apply_status(
        delivery_id=delivery.pk,
        status="sent" if delayed else "failed",
        provider=provider,
        event_id=key,
        event_type="dsn-delayed" if delayed else "dsn-failed",
        payload=payload,
        classification=classification,
    )
    return True


def _unmatched_hard_bounce(recipient: str, classification: Classification) -> None:
    """A permanent failure of an address we cannot tie to a delivery still blocks the address."""
    if not classification.hard or classification.ours:
        return
    try:
        dns_add(
            channel="email",
            address=recipient,
            reason=bounce_reason_for("email", classification),
            category=str(classification.category),
            note=f"Bounce message: {classification.reason}"[:255],
        )
    except ValidationError:
        logger.warning("bounce message for an invalid address ignored")
