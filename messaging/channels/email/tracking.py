"""E-mail tracking: anymail's ``tracking`` signal → delivery outcomes and the Do-Not-Send list.

anymail's own webhook views (``/anymail/<esp>/tracking/``, mounted and wrapped by
:mod:`messaging.channels.email.webhooks`: basic auth with ``ANYMAIL["WEBHOOK_SECRET"]`` is required,
plus the ESP's signature where it has one) normalise the payload into ``AnymailTrackingEvent``
objects; ``on_tracking`` receives each of them.

Every event is applied once (``ProviderEvent`` provider ``anymail:<esp>``, unique event id; ESPs
without ids get a hash of the raw event), linked to its delivery by our metadata
(``delivery_id``) or by the ESP's message id, classified by :mod:`messaging.channels.email.esp`,
and handed to ``messaging.outcomes.delivery_apply_status``. Only database work happens here: no
network calls.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType
from django.core.exceptions import ValidationError

from bounces.models import DnsReason
from bounces.services import bounce_reason_for, dns_add
from bounces.smtp import classify_smtp
from bounces.taxonomy import Classification
from messaging.channels.email.esp import classify_tracking_event
from messaging.models import Attempt, Delivery, ProviderEvent
from messaging.outcomes import delivery_apply_status

logger = logging.getLogger(__name__)

# What each normalised event says about the delivery.
DELIVERED_EVENTS = frozenset({EventType.DELIVERED, EventType.OPENED, EventType.CLICKED, EventType.AUTORESPONDED})
SENT_EVENTS = frozenset({EventType.QUEUED, EventType.SENT})
FAILED_EVENTS = frozenset({EventType.BOUNCED, EventType.FAILED, EventType.REJECTED})
OPT_OUT_EVENTS = {EventType.COMPLAINED: DnsReason.COMPLAINT, EventType.UNSUBSCRIBED: DnsReason.UNSUBSCRIBE}


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """Receiver for ``anymail.signals.tracking`` (connected in ``MessagingConfig.ready``)."""
    tracking_event_apply(event=event, esp_name=esp_name)


def provider_name(esp_name: str) -> str:
    return "anymail:" + esp_name.strip().lower().replace(" ", "_")


def event_key(event: AnymailTrackingEvent) -> str:
    """A stable id for the event: the ESP's id (plus recipient and type: one SES notification
    covers several recipients), or a hash of the raw event for ESPs that send none (Brevo)."""
    base = str(event.event_id) if event.event_id else "h-" + _digest(raw_payload(event))[:40]
    key = f"{base}:{event.event_type}:{(event.recipient or '').lower()}"
    return key if len(key) <= 200 else "k-" + _digest(key)


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def raw_payload(event: AnymailTrackingEvent) -> dict[str, Any]:
    """The ESP's raw event as JSON-able data (Mailgun's legacy form posts arrive as a QueryDict)."""
    raw = event.esp_event
    if hasattr(raw, "lists"):
        return {k: v[0] if len(v) == 1 else v for k, v in raw.lists()}
    if isinstance(raw, dict):
        return json.loads(json.dumps(raw, default=str))
    if isinstance(raw, list):
        return {"events": json.loads(json.dumps(raw, default=str))}
    return {"raw": str(raw)} if raw is not None else {}


# --- Linking events to deliveries ----------------------------------------------------------------


def delivery_for_event(event: AnymailTrackingEvent) -> Delivery | None:
    """The e-mail delivery an event is about: our metadata first, then the ESP's message id."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    delivery = delivery_by_reference(str(metadata.get("delivery_id") or ""))
    if delivery is None and event.message_id:
        delivery = delivery_by_message_id(str(event.message_id), recipient=event.recipient or "")
    return delivery


def delivery_by_reference(reference: str) -> Delivery | None:
    """A delivery by our own reference: its id (metadata) or its token (headers)."""
    reference = reference.strip()
    if not reference:
        return None
    deliveries = Delivery.objects.filter(channel="email")
    if reference.isdigit():
        return deliveries.filter(pk=int(reference)).first()
    return deliveries.filter(token=reference).first()


def delivery_by_message_id(message_id: str, *, recipient: str = "") -> Delivery | None:
    """A delivery by the provider's message id, with or without angle brackets; older attempts too."""
    bare = message_id.strip().strip("<>")
    if not bare:
        return None
    forms = {bare, f"<{bare}>"}
    candidates = Delivery.objects.filter(channel="email", provider_message_id__in=forms)
    if not candidates.exists():
        ids = Attempt.objects.filter(provider_message_id__in=forms).values("delivery_id")
        candidates = Delivery.objects.filter(channel="email", pk__in=ids)
    if recipient:
        for_recipient = candidates.filter(address__iexact=recipient)
        if for_recipient.exists():
            candidates = for_recipient
    return candidates.order_by("-id").first()


# --- Applying ---------------------------------------------------------------------------------------


def classification_for(event: AnymailTrackingEvent, esp_name: str = "") -> Classification | None:
    return classify_tracking_event(event, esp_name or None)


def _fallback_classification(event: AnymailTrackingEvent) -> Classification:
    """A failure the classifier could not place (should not happen): from the SMTP text."""
    return classify_smtp(str(event.mta_response or event.description or ""))


def is_opt_out(classification: Classification | None) -> bool:
    """A complaint or unsubscribe (not a spam-filter bounce that an ESP reports as a complaint)."""
    return classification is not None and str(classification.category) == "DNS"


def _already_seen(provider: str, key: str) -> bool:
    return ProviderEvent.objects.filter(provider=provider, event_id=key).exists()


def _record_unlinked(provider: str, key: str, event: AnymailTrackingEvent) -> bool:
    """Keep an event no delivery matches (raw payload, for support); True if it is new."""
    _, created = ProviderEvent.objects.get_or_create(
        provider=provider,
        event_id=key,
        defaults={
            "event_type": str(event.event_type or "")[:64],
            "status": "unmatched",
            "payload": raw_payload(event),
        },
    )
    return created


def normalised_event(event: AnymailTrackingEvent) -> AnymailTrackingEvent:
    """Fill in what anymail leaves "unknown": Amazon SES ``DeliveryDelay`` (a deferral) and
    ``Subscription`` with ``unsubscribeAll`` (an unsubscribe). Returns a copy when it changes."""
    if event.event_type != EventType.UNKNOWN or not isinstance(event.esp_event, dict):
        return event
    raw = event.esp_event
    kind = raw.get("eventType") or raw.get("notificationType")
    if kind == "DeliveryDelay":
        delay = raw.get("deliveryDelay") or {}
        changed = copy.copy(event)
        changed.event_type = EventType.DEFERRED
        for item in delay.get("delayedRecipients") or ():
            if str(item.get("emailAddress", "")).lower() == (event.recipient or "").lower():
                changed.mta_response = item.get("diagnosticCode") or event.mta_response
        changed.description = delay.get("delayType") or event.description
        return changed
    preferences = (raw.get("subscription") or {}).get("newTopicPreferences") or {}
    if kind == "Subscription" and preferences.get("unsubscribeAll"):
        changed = copy.copy(event)
        changed.event_type = EventType.UNSUBSCRIBED
        return changed
    return event


def tracking_event_apply(*, event: AnymailTrackingEvent, esp_name: str) -> bool:
    """Apply one normalised tracking event; returns whether it was new. Idempotent."""
    event = normalised_event(event)
    provider = provider_name(esp_name)
    key = event_key(event)
    if _already_seen(provider, key):
        return False
    status, classification = status_for(event, esp_name)
    delivery = delivery_for_event(event)
    if delivery is None:
        if not _record_unlinked(provider, key, event):
            return False
        logger.info("%s event %s (%s) matches no delivery", provider, key[:60], event.event_type)
    else:
        _apply_to_delivery(
            delivery, provider=provider, key=key, event=event, status=status, classification=classification
        )
    _apply_to_address(event, delivery=delivery, status=status, classification=classification)
    return True


def status_for(event: AnymailTrackingEvent, esp_name: str = "") -> tuple[str, Classification | None]:
    """The delivery status an event reports ("" for none), and the failure's classification."""
    kind = event.event_type
    if kind in FAILED_EVENTS:
        return "failed", classification_for(event, esp_name) or _fallback_classification(event)
    if kind == EventType.DEFERRED:
        # The ESP keeps retrying: the delivery stays "sent" and shows the soft reason meanwhile.
        return "sent", classification_for(event, esp_name) or _fallback_classification(event)
    if kind in OPT_OUT_EVENTS:
        classification = classification_for(event, esp_name)
        if classification is not None and not is_opt_out(classification):
            return "failed", classification  # e.g. Postmark SpamNotification: a spam-filter bounce
        return "delivered", classification  # a complaint or an unsubscribe click proves arrival
    if kind in DELIVERED_EVENTS:
        return "delivered", None
    if kind in SENT_EVENTS:
        return "sent", None
    return "", None


def _apply_to_delivery(
    delivery: Delivery,
    *,
    provider: str,
    key: str,
    event: AnymailTrackingEvent,
    status: str,
    classification: Classification | None,
) -> None:
    delivery_apply_status(
        delivery_id=delivery.pk,
        status=status or delivery.status,
        provider=provider,
        event_id=key,
        event_type=str(event.event_type or "")[:64],
        payload=raw_payload(event),
        classification=classification if status in ("failed", "sent") else None,
        provider_message_id=str(event.message_id or "")[:128],
    )


def _apply_to_address(
    event: AnymailTrackingEvent,
    *,
    delivery: Delivery | None,
    status: str,
    classification: Classification | None,
) -> None:
    """Complaints and unsubscribes put the address on the Do-Not-Send list. So does a hard
    failure that matches no delivery (a matched one goes through the delivery's bounce policy)."""
    address = (event.recipient or (delivery.address if delivery else "")).strip()
    if not address or classification is None:
        return
    reason = OPT_OUT_EVENTS.get(event.event_type) if is_opt_out(classification) else None
    category = "DNS"
    if reason is None and delivery is None and status == "failed":
        if not classification.hard or classification.ours:
            return
        reason, category = bounce_reason_for("email", classification), str(classification.category)
    if reason is None:
        return
    try:
        dns_add(
            channel="email",
            address=address,
            reason=reason,
            category=category,
            source_delivery=delivery,
            note=f"{event.event_type} event",
        )
    except ValidationError:
        logger.warning("tracking event for an invalid address ignored (event type %s)", event.event_type)
