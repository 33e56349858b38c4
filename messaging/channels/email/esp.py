"""ESP tracking events → :class:`~bounces.taxonomy.Classification`: what each ESP's raw payload says.

anymail normalises every ESP's webhook into an ``AnymailTrackingEvent`` (``event_type``,
``mta_response``, ``description``, ``reject_reason``), but the hard/soft verdict and the ESP's
own category live in the raw ``esp_event``. One reader per ESP (Amazon SES, Mailgun, Postmark,
SparkPost, Mandrill, Resend, Postal, MailerSend, Mailjet, SendGrid, Mailtrap, Brevo, Unisender Go)
turns it into :class:`EspFacts`; :func:`classify_tracking_event` weighs those facts with the MTA
text (:mod:`bounces.smtp`) and the ESP's code tables (:mod:`messaging.channels.email.esp_rules`).

Public API: :func:`classify_tracking_event`, :func:`esp_facts`, :class:`EspFacts`, :data:`ESP_READERS`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bounces.smtp import MAPPED_NAMES, SmtpAnalysis, analyse_smtp, normalise_text
from bounces.taxonomy import (
    Category,
    Classification,
    CodeRule,
    Evidence,
    as_int,
    as_lower,
    as_text,
    from_evidence,
    make_classification,
    normalise_name,
    strongest,
)
from messaging.channels.email import esp_rules as rules

log = logging.getLogger(__name__)

_C = Category

_FAILURE_EVENTS = frozenset({"bounced", "failed", "rejected", "deferred"})
_OPT_OUT_EVENTS = frozenset({"complained", "unsubscribed"})
_DESCRIPTION_PENALTY = 30  # ESP descriptions are generic per type; MTA text is better evidence


# --- What a payload says -------------------------------------------------------------------------


@dataclass
class EspFacts:
    """What an ESP's raw payload says beyond anymail's normalised fields."""

    esp: str = ""
    hard: bool | None = None
    evidence: list[Evidence] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    status: str = ""
    suppressed: str = ""  # reason, when the provider refused because of its own list
    is_bounce: bool = False  # a "complained" event that is really a spam-filter bounce

    def add(self, rule: CodeRule | None, reason: str) -> None:
        if rule is not None:
            self.evidence.append(Evidence(rule.category, rule.strength, reason, rule.ours))


def _apply(facts: EspFacts, rule: CodeRule | None, reason: str) -> None:
    if rule is rules.SUPPRESS:
        facts.suppressed = facts.suppressed or reason
    else:
        facts.add(rule, reason)


def _as_mapping(obj: Any) -> Mapping[str, Any]:
    """Best effort: a dict, a QueryDict, an HttpRequest's POST/JSON body, or the first item."""
    if isinstance(obj, Mapping):
        return obj
    if isinstance(obj, list | tuple) and obj and isinstance(obj[0], Mapping):
        return obj[0]
    try:
        post = getattr(obj, "POST", None)
        if isinstance(post, Mapping) and post:
            return post
        body = getattr(obj, "body", None)
        if isinstance(body, bytes | str) and body:
            parsed = json.loads(body)
            return _as_mapping(parsed) if isinstance(parsed, Mapping | list) else {}
    except Exception:  # an odd request object must never break classification
        log.debug("could not read esp_event %r", type(obj), exc_info=True)
    return {}


def _dig(obj: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(obj, list | tuple) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        elif isinstance(obj, Mapping):
            obj = obj.get(key)
        else:
            return None
    return obj


def _flag(value: Any) -> bool:
    return value is True or as_text(value).strip().lower() in {"true", "1", "yes"}


# --- The readers, one per ESP ---------------------------------------------------------------------

# --- Amazon SES (also the basis of Resend's bounce objects) ---


def _ses_bounce(facts: EspFacts, bounce: Mapping[str, Any], recipient: str) -> None:
    facts.hard = rules.SES_BOUNCE_TYPES.get(as_lower(bounce.get("bounceType")))
    subtype = as_lower(bounce.get("bounceSubType"))
    _apply(facts, rules.SES_SUBTYPES.get(subtype), f"{facts.esp} bounceSubType {subtype}")
    for item in bounce.get("bouncedRecipients") or ():
        if isinstance(item, Mapping) and as_lower(item.get("emailAddress")) == recipient:
            facts.status = as_text(item.get("status"))
            facts.texts.append(as_text(item.get("diagnosticCode")))


def _is_ses(raw: Mapping[str, Any]) -> bool:
    kind = as_lower(raw.get("eventType") or raw.get("notificationType"))
    return bool(kind) and ("mail" in raw or kind in {"bounce", "complaint", "reject"})


def _ses(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    kind = as_lower(raw.get("eventType") or raw.get("notificationType"))
    facts = EspFacts(esp="SES")
    if kind == "bounce" and isinstance(raw.get("bounce"), Mapping):
        _ses_bounce(facts, raw["bounce"], recipient)
    elif kind == "reject":  # SES found a virus
        facts.add(CodeRule(_C.CONTENT_RELATED, 90), "SES reject: bad content")
        facts.texts.append(as_text(_dig(raw, "reject", "reason")))
    elif kind == "rendering failure":
        facts.add(CodeRule(_C.BAD_CONFIGURATION, 90, ours=True), "SES rendering failure")
    elif kind == "deliverydelay":
        facts.hard = False
        delay = as_lower(_dig(raw, "deliveryDelay", "delayType"))
        facts.add(rules.SES_DELAY_TYPES.get(delay), f"SES delayType {delay}")
    return facts


# --- Mailgun ---


def _mailgun_common(facts: EspFacts, reason: str, code: Any, text: str) -> None:
    _apply(facts, rules.MAILGUN_REASONS.get(reason), f"Mailgun reason {reason}")
    number = as_int(code)
    if number is not None:
        _apply(facts, rules.MAILGUN_CODES.get(number), f"Mailgun code {number}")
        facts.texts.append(f"{number} {text}".strip())
    else:
        facts.status = as_text(code)  # legacy webhooks may send "5.1.1" here
        facts.texts.append(text)


def _is_mailgun(raw: Mapping[str, Any]) -> bool:
    legacy = "event" in raw and ("token" in raw or "signature" in raw)
    return isinstance(raw.get("event-data"), Mapping) or legacy


def _mailgun(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    data = raw.get("event-data")
    if isinstance(data, Mapping):
        facts = EspFacts(esp="Mailgun", hard=rules.MAILGUN_SEVERITY.get(as_lower(data.get("severity"))))
        status = data.get("delivery-status") if isinstance(data.get("delivery-status"), Mapping) else {}
        _mailgun_common(
            facts,
            as_lower(data.get("reason")),
            status.get("code"),
            normalise_text(status.get("message") or status.get("description")),
        )
        facts.status = facts.status or as_text(status.get("enhanced-code") or status.get("bounce-code"))
        return facts
    # legacy POST webhooks (a QueryDict)
    event = as_lower(raw.get("event"))
    facts = EspFacts(esp="Mailgun", hard=True if event == "bounced" else None)
    text = as_text(raw.get("error") or raw.get("notification") or raw.get("description"))
    _mailgun_common(facts, as_lower(raw.get("reason")), raw.get("code"), text)
    return facts


# --- Postmark ---


def _is_postmark(raw: Mapping[str, Any]) -> bool:
    return "RecordType" in raw or "TypeCode" in raw


def _postmark(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    kind = as_lower(raw.get("Type") or raw.get("SuppressionReason"))
    facts = EspFacts(esp="Postmark")
    hard, rule = rules.POSTMARK_TYPES.get(kind, (None, None))
    facts.hard = hard
    _apply(facts, rule, f"Postmark {kind}")
    facts.is_bounce = kind == "spamnotification"  # anymail reports it as "complained"
    return facts


# --- SparkPost, and Mandrill's bgtools_code (both use Momentum bounce classes) ---


def _momentum(facts: EspFacts, bounce_class: Any, text: str) -> None:
    code = as_text(bounce_class).strip()
    if not code:
        return
    hard, rule = rules.MOMENTUM_CLASSES.get(code, (None, None))
    if code == "25" and "suppress" in text.lower():
        rule = rules.SUPPRESS  # SparkPost's own suppression list
    facts.hard = hard if facts.hard is None else facts.hard
    _apply(facts, rule, f"{facts.esp} bounce class {code}")


def _is_sparkpost(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("msys"), Mapping)


def _sparkpost(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    msys = raw.get("msys")
    events = msys.values() if isinstance(msys, Mapping) else [raw]  # also accept the bare event
    event = next((v for v in events if isinstance(v, Mapping)), {})
    facts = EspFacts(esp="SparkPost")
    reason = as_text(event.get("raw_reason") or event.get("reason"))
    facts.texts.append(reason)
    _apply(facts, rules.SPARKPOST_TYPES.get(as_lower(event.get("type"))), "SparkPost generation")
    _momentum(facts, event.get("bounce_class"), reason)
    return facts


# --- Mandrill ---


def _is_mandrill(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("msg"), Mapping) and "event" in raw


def _mandrill(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    msg = raw.get("msg") if isinstance(raw.get("msg"), Mapping) else {}
    facts = EspFacts(esp="Mandrill", hard=rules.MANDRILL_EVENTS.get(as_lower(raw.get("event"))))
    description = as_lower(msg.get("bounce_description"))
    facts.add(rules.MANDRILL_DESCRIPTIONS.get(description), f"Mandrill {description}")
    reject = as_lower(_dig(raw, "reject", "reason") or _dig(msg, "reject", "reason"))
    _apply(facts, rules.MANDRILL_REJECTS.get(reject), f"Mandrill reject {reject}")
    facts.texts.append(as_text(msg.get("diag")))
    facts.texts.append(as_text(_dig(msg, "smtp_events", -1, "diag")))
    _momentum(facts, msg.get("bgtools_code"), "")
    return facts


# --- Resend (SES underneath) ---


def _is_resend(raw: Mapping[str, Any]) -> bool:
    return as_lower(raw.get("type")).startswith("email.") and isinstance(raw.get("data"), Mapping)


def _resend(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    kind = as_lower(raw.get("type"))
    facts = EspFacts(esp="Resend", hard=False if kind == "email.delivery_delayed" else None)
    bounce = _dig(raw, "data", "bounce")
    if isinstance(bounce, Mapping):
        message = as_text(bounce.get("message"))
        facts.hard = rules.SES_BOUNCE_TYPES.get(as_lower(bounce.get("type")))
        subtype = as_lower(bounce.get("subType"))
        _apply(facts, rules.SES_SUBTYPES.get(subtype), f"Resend subType {subtype}")
        if "suppressed sending" in message.lower():
            facts.suppressed = "Resend suppressed sending"
        elif "hard bounce" in message.lower() and facts.hard is None:
            facts.hard = True
        facts.texts.append(message)
    return facts


# --- Postal ---


def _is_postal(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("payload"), Mapping)


def _postal(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    payload = raw.get("payload") if isinstance(raw.get("payload"), Mapping) else raw
    facts = EspFacts(esp="Postal", hard=rules.POSTAL_STATUS.get(as_lower(payload.get("status"))))
    facts.texts.append(as_text(payload.get("output")))
    facts.texts.append(as_text(payload.get("details")))
    return facts


# --- MailerSend ---


def _is_mailersend(raw: Mapping[str, Any]) -> bool:
    return isinstance(_dig(raw, "data", "email"), Mapping)


def _mailersend(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else {}
    facts = EspFacts(esp="MailerSend", hard=rules.MAILERSEND_TYPES.get(as_lower(data.get("type"))))
    facts.texts.append(as_text(_dig(data, "morph", "reason")))
    return facts


# --- Mailjet ---


def _is_mailjet(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("hard_bounce", "error_related_to", "mj_message_id", "Message_GUID"))


def _mailjet(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    hard = _flag(raw.get("hard_bounce")) if "hard_bounce" in raw else None
    facts = EspFacts(esp="Mailjet", hard=hard)
    error = as_lower(raw.get("error"))
    _apply(facts, rules.MAILJET_ERRORS.get(error), f"Mailjet error {error}")
    facts.texts.append(as_text(raw.get("smtp_reply")))
    facts.texts.append(as_text(raw.get("comment")))
    return facts


# --- SendGrid ---


def _is_sendgrid(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("sg_event_id", "sg_message_id", "smtp-id"))


def _sendgrid(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    facts = EspFacts(esp="SendGrid", status=as_text(raw.get("status")))
    event, kind = as_lower(raw.get("event")), as_lower(raw.get("type"))
    if event == "bounce":
        facts.hard, rule = rules.SENDGRID_BOUNCE_TYPES.get(kind, (None, None))
        facts.add(rule, f"SendGrid type {kind}")
    elif event == "dropped":
        reason = as_lower(raw.get("reason")) or kind
        _apply(facts, rules.SENDGRID_DROPS.get(reason), f"SendGrid dropped: {reason}")
    elif event == "deferred":
        facts.hard = False
    classification = as_lower(raw.get("bounce_classification"))
    facts.add(rules.SENDGRID_CLASSIFICATIONS.get(classification), f"SendGrid {classification}")
    facts.texts.append(as_text(raw.get("reason") if event != "dropped" else ""))
    facts.texts.append(as_text(raw.get("response")))
    return facts


# --- Mailtrap ---


def _is_mailtrap(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("sending_stream", "response_code", "bounce_category"))


def _mailtrap(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    event = as_lower(raw.get("event"))
    facts = EspFacts(esp="Mailtrap")
    facts.hard, rule = rules.MAILTRAP_EVENTS.get(event, (None, None))
    _apply(facts, rule, f"Mailtrap {event}")
    mapped = MAPPED_NAMES.get(normalise_name(raw.get("bounce_category")))
    if mapped is not None:
        facts.add(CodeRule(mapped.category, 70, mapped.ours), "Mailtrap bounce_category")
    facts.texts.append(f"{as_text(raw.get('response_code'))} {as_text(raw.get('response'))}".strip())
    return facts


# --- Brevo (Sendinblue) ---


def _is_brevo(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("ts_epoch", "ts_event", "message-id", "X-Mailin-custom"))


def _brevo(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    event = as_lower(raw.get("event"))
    facts = EspFacts(esp="Brevo")
    facts.hard, rule = rules.BREVO_EVENTS.get(event, (None, None))
    _apply(facts, rule, f"Brevo {event}")
    facts.texts.append(as_text(raw.get("reason")))
    return facts


# --- Unisender Go ---


def _is_unisender_go(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("delivery_info"), Mapping) or "job_id" in raw


def _unisender_go(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    info = raw.get("delivery_info") if isinstance(raw.get("delivery_info"), Mapping) else {}
    facts = EspFacts(esp="Unisender Go", hard=rules.UNISENDER_STATUSES.get(as_lower(raw.get("status"))))
    status = as_lower(info.get("delivery_status"))
    _apply(facts, rules.UNISENDER_ERRORS.get(status), f"Unisender Go {status}")
    facts.texts.append(as_text(info.get("destination_response")))
    return facts


# --- Which reader --------------------------------------------------------------------------------


class EspReader(NamedTuple):
    """How to recognise one ESP's raw payload, and how to read it."""

    matches: Callable[[Mapping[str, Any]], bool]
    read: Callable[[Mapping[str, Any], str], EspFacts]


#: Tried in this order when the ESP is not named; keys are normalised ``esp_name`` values
#: (anymail's "Amazon SES" → "amazonses"). A named ESP is read without the shape check.
ESP_READERS: dict[str, EspReader] = {
    "amazonses": EspReader(_is_ses, _ses),
    "mailgun": EspReader(_is_mailgun, _mailgun),
    "postmark": EspReader(_is_postmark, _postmark),
    "sparkpost": EspReader(_is_sparkpost, _sparkpost),
    "mailjet": EspReader(_is_mailjet, _mailjet),
    "sendgrid": EspReader(_is_sendgrid, _sendgrid),
    "mailtrap": EspReader(_is_mailtrap, _mailtrap),
    "mandrill": EspReader(_is_mandrill, _mandrill),
    "resend": EspReader(_is_resend, _resend),
    "postal": EspReader(_is_postal, _postal),
    "mailersend": EspReader(_is_mailersend, _mailersend),
    "unisendergo": EspReader(_is_unisender_go, _unisender_go),
    "brevo": EspReader(_is_brevo, _brevo),
    "sendinblue": EspReader(_is_brevo, _brevo),
}


def _reader_for(raw: Mapping[str, Any], esp_name: str | None) -> EspReader | None:
    named = ESP_READERS.get(normalise_name(esp_name))
    if named is not None:
        return named
    return next((reader for reader in ESP_READERS.values() if reader.matches(raw)), None)


def esp_facts(raw: Mapping[str, Any], recipient: str = "", esp_name: str | None = None) -> EspFacts:
    """Read an ESP's own hard/soft and category fields from its raw event."""
    reader = _reader_for(raw, esp_name)
    if reader is None:
        return EspFacts()
    facts = reader.read(raw, recipient.lower())
    facts.texts = [t for t in facts.texts if t.strip()]
    return facts


# --- Classifying an anymail tracking event --------------------------------------------------------


def _event_evidence(event: Any, facts: EspFacts) -> SmtpAnalysis:
    mta = analyse_smtp(" ".join([as_text(getattr(event, "mta_response", None)), *facts.texts]))
    if not mta.evidence and facts.status:
        mta = analyse_smtp(facts.status)
    description = analyse_smtp(getattr(event, "description", None), penalty=_DESCRIPTION_PENALTY)
    evidence = [*mta.evidence, *description.evidence, *facts.evidence]
    reject = as_lower(getattr(event, "reject_reason", None))
    rule = rules.REJECT_REASONS.get(reject)
    if rule is not None:
        evidence.append(Evidence(rule.category, rule.strength, f"reject_reason {reject}"))
    return SmtpAnalysis(evidence, mta.transient)


def _fallback(event_type: str, facts: EspFacts) -> Evidence:
    if event_type == "failed" and facts.hard is None:
        return Evidence(_C.BAD_CONFIGURATION, 0, "ESP could not send", ours=True)
    if facts.hard:
        return Evidence(_C.BAD_MAILBOX, 0, f"{facts.esp or 'ESP'} permanent bounce")
    return Evidence(_C.OTHER, 0, f"{facts.esp or 'ESP'} {event_type}")


def _classify_event(event: Any, esp_name: str | None) -> Classification | None:
    event_type = as_lower(getattr(event, "event_type", None))
    if event_type not in _FAILURE_EVENTS | _OPT_OUT_EVENTS:
        return None
    raw = _as_mapping(getattr(event, "esp_event", None))
    facts = esp_facts(raw, as_text(getattr(event, "recipient", None)), esp_name)
    if event_type in _OPT_OUT_EVENTS and not facts.is_bounce:
        return make_classification(_C.DNS, f"recipient {event_type}: do-not-send")
    if facts.suppressed:
        return make_classification(_C.DNS, f"provider suppression: {facts.suppressed}")
    reject = as_lower(getattr(event, "reject_reason", None))
    if event_type == "rejected" and reject in rules.REJECTED_SUPPRESSIONS and not facts.evidence:
        return make_classification(_C.DNS, f"provider suppression: reject_reason {reject}")
    analysis = _event_evidence(event, facts)
    best = strongest(analysis.evidence) or _fallback(event_type, facts)
    if event_type == "deferred":
        transient = True
    elif facts.hard is not None:
        transient = not facts.hard
    else:
        transient = bool(analysis.transient)
    return from_evidence(best, transient)


def classify_tracking_event(event: Any, esp_name: str | None = None) -> Classification | None:
    """Classify an ``anymail.signals.AnymailTrackingEvent``; None when it is no failure.

    bounced / failed / rejected / deferred are classified from the ESP's own fields in
    ``esp_event`` plus ``mta_response`` and ``description`` (``reject_reason`` as a fallback).
    complained / unsubscribed put the address on the do-not-send list (DNS, hard). Provider-side
    suppression is DNS too. ``esp_name`` (as passed to the tracking signal) is an optional hint.
    Never raises.
    """
    try:
        return _classify_event(event, esp_name)
    except Exception:  # odd payloads must not break the webhook
        log.exception("could not classify tracking event")
        event_type = as_lower(getattr(event, "event_type", None))
        if event_type in _FAILURE_EVENTS:
            return make_classification(_C.OTHER, "unclassifiable event")
        return None
