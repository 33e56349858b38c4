"""Reading a client's text: Twilio's inbound fields, opt-out keywords and confirm / cancel answers.

What a text *is* (:class:`InboundText`) and what it *asks for* (:func:`intent_of`) belong to the
SMS channel; what is done about it (store, link to the appointment, opt out, tell staff) is
``messaging.inbound``'s.

Keywords both lists share: Twilio's own opt-out handling is authoritative. When Twilio sends
``OptOutType`` (Advanced Opt-Out, or a default keyword on a long code) we apply it, because Twilio
itself now refuses texts to that number until START; without ``OptOutType`` we match Twilio's
default keywords ourselves. So "CANCEL" both opts the number out of texts *and* records the
client's request to cancel the appointment; "YES" both opts in and confirms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers
from django.conf import settings

from messaging.channels.sms.spec import SPEC

# Twilio's default keywords on long codes and toll-free numbers.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# Answers to a reminder; configurable with the Django settings SMS_CONFIRM_WORDS / SMS_DECLINE_WORDS.
CONFIRM_WORDS = ("C", "Y", "YES", "1", "CONFIRM", "CONFIRMED", "OK")
DECLINE_WORDS = ("N", "NO", "2", "CANCEL", "CXL")
CONFIRM, DECLINE = "confirm", "decline"
MAX_BODY = 1600  # Twilio's longest text


class InboundError(ValueError):
    """The webhook's data cannot be a Twilio inbound message (answered with 400)."""


@dataclass(frozen=True)
class InboundText:
    """A client's text as the rest of messaging sees it, whatever provider brought it."""

    provider_message_id: str
    from_number: str  # E.164
    to_number: str
    body: str
    opt_out_type: str = ""  # the provider's own opt-out verdict (Twilio OptOutType), if any
    channel: str = SPEC.kind  # the deliveries a reply may answer


def parse_twilio_inbound(params: Mapping[str, str]) -> InboundText:
    """Twilio's inbound-message fields as an :class:`InboundText`; :class:`InboundError` if they are not."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    if not sid or len(sid) > 64:
        raise InboundError("MessageSid is missing")
    if not params.get("From"):
        raise InboundError("From is missing")
    return InboundText(
        provider_message_id=sid,
        from_number=e164(params["From"]),
        to_number=(params.get("To") or "")[:32],
        body=(params.get("Body") or "")[:MAX_BODY],
        opt_out_type=params.get("OptOutType", "") or "",
    )


def e164(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InboundError("From is not a phone number") from exc
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def confirm_words() -> frozenset[str]:
    return frozenset(w.upper() for w in getattr(settings, "SMS_CONFIRM_WORDS", CONFIRM_WORDS))


def decline_words() -> frozenset[str]:
    return frozenset(w.upper() for w in getattr(settings, "SMS_DECLINE_WORDS", DECLINE_WORDS))


def normalised_word(body: str) -> str:
    """The body as a keyword: trimmed, upper case, without surrounding quotes or final punctuation."""
    text = " ".join((body or "").split()).upper()
    return re.sub(r"^[\"'“”]+|[\"'“”.!?,;:]+$", "", text)


@dataclass(frozen=True)
class Intent:
    keyword: str  # stored on the InboundMessage: STOP, START, HELP, CONFIRM, DECLINE or ''
    opt: str  # "STOP", "START", "HELP" or ''
    answer: str  # CONFIRM, DECLINE or ''


def intent_of(body: str, opt_out_type: str = "") -> Intent:
    """What a text asks for. Twilio's ``OptOutType`` wins over our own keyword matching."""
    word = normalised_word(body)
    opt = (opt_out_type or "").strip().upper()
    if opt not in {"STOP", "START", "HELP"}:
        opt = ""
        if word in OPT_OUT_WORDS:
            opt = "STOP"
        elif word in OPT_IN_WORDS:
            opt = "START"
        elif word in HELP_WORDS:
            opt = "HELP"
    answer = CONFIRM if word in confirm_words() else DECLINE if word in decline_words() else ""
    keyword = opt or answer.upper()
    return Intent(keyword=keyword, opt=opt, answer=answer)
