"""What a failure category means on each channel, and what staff can do about it: the one place
History, the delivery detail, the Failure Summary and the CSV export read those words from.

The category names are the seed's (``bounces.taxonomy.Category``); their words depend on the channel:
an SMS to a landline is "Bad-Mailbox" like a mistyped e-mail address, but the receptionist needs
"This number is a landline and can't receive texts: use Voice or update the number", not "The email
box is invalid". Each channel keeps its own words in its package (the module its spec's
``explanations`` names: ``EXPLANATIONS`` per category and, where a provider's code says more,
``BY_CODE``); a category a channel has no words for gets the channel-neutral words below, which
name no channel's technology. The e-mail channel's words are the seed's explanations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module

from bounces.taxonomy import Category
from messaging.channels.registry import all_specs

_C = Category


@dataclass(frozen=True)
class Explanation:
    """What a failure means (``meaning``) and what staff can do about it (``next_step``)."""

    meaning: str
    next_step: str

    @property
    def text(self) -> str:
        """Both, as one sentence pair (a tooltip, a CSV cell)."""
        return f"{self.meaning} {self.next_step}".strip()

    def __bool__(self) -> bool:
        return bool(self.meaning)


NONE = Explanation("", "")

#: Words for any channel: a category seen across channels (the Failure Summary's rows) or one a
#: channel has no words of its own for. They name no channel's technology.
NEUTRAL: dict[Category, tuple[str, str]] = {
    _C.BAD_DOMAIN: (
        "The address points to a provider that does not exist or accepts no messages.",
        "Check the address with the client and correct it on the chart.",
    ),
    _C.BAD_MAILBOX: (
        "The address or number does not exist, or cannot receive this kind of message.",
        "Check it with the client and correct it on the chart, or use another contact method.",
    ),
    _C.DNS: (
        "The address or number is on the Do-Not-Send list (the client unsubscribed or replied STOP, for example): "
        "nothing is sent to it.",
        "Use another contact method; remove it from the Do-Not-Send list only if the client asks.",
    ),
    _C.DOMAIN_DNS: (
        "Everything to this address's provider is blocked by the Do-Not-Send list.",
        "Ask the client for another address, or use another contact method.",
    ),
    _C.INACTIVE_MAILBOX: (
        "The address or number exists but is no longer in use.",
        "Ask the client for a current one and update the chart.",
    ),
    _C.POLICY_RELATED: (
        "The recipient's own settings refused the message.",
        "Ask the client to allow messages from the clinic, or use another contact method.",
    ),
    _C.CONTENT_RELATED: (
        "The message was refused because of what it contains.",
        "Reword it, or use another contact method.",
    ),
    _C.RELAYING_ISSUES: (
        "The clinic's messaging service could not hand the message on to the recipient's provider.",
        "It is tried again automatically; tell your administrator if it keeps happening.",
    ),
    _C.ROUTING_ERRORS: (
        "The message reached the recipient's provider but could not be passed on to the recipient.",
        "It is tried again automatically; if it keeps failing, check the address or number with the client.",
    ),
    _C.SPAM_RELATED: (
        "A spam filter blocked the message.",
        "Ask the client to allow messages from the clinic, or use another contact method.",
    ),
    _C.BAD_CONFIGURATION: (
        "The message could not be delivered because of a setup problem, usually on the clinic's side.",
        "Tell your administrator: sending it again unchanged may fail the same way.",
    ),
    _C.BAD_CONNECTION: (
        "The connection dropped while the message was being passed on.",
        "It is tried again automatically; nothing to do unless it keeps failing.",
    ),
    _C.MESSAGE_EXPIRED: (
        "The message was retried until it was too old to deliver.",
        "Send it again if it still matters, or use another contact method.",
    ),
    _C.NO_ANSWER_FROM_HOST: (
        "The recipient could not be reached, after every attempt.",
        "Try again later, or use another contact method.",
    ),
    _C.QUOTA_ISSUES: (
        "The recipient cannot take more messages for now: the space for them is full.",
        "It is tried again automatically; ask the client to make room, or use another contact method.",
    ),
    _C.OTHER: (
        "The message failed and the provider gave no reason.",
        "Send it again later; if it keeps failing, check the address or number with the client.",
    ),
}


@dataclass(frozen=True)
class _Words:
    by_category: Mapping[str, tuple[str, str]]
    by_code: Mapping[tuple[str, str], tuple[str, str]]  # (category, provider code)


@cache
def _channel_words() -> dict[str, _Words]:
    """Each channel's words, from the module its spec names (none: the neutral words only)."""
    words: dict[str, _Words] = {}
    for spec in all_specs():
        module = import_module(spec.explanations) if spec.explanations else None
        table = getattr(module, "EXPLANATIONS", {})
        codes = getattr(module, "BY_CODE", {})
        words[spec.kind] = _Words(
            {str(k): v for k, v in table.items()}, {(str(cat), str(code)): v for (cat, code), v in codes.items()}
        )
    return words


@cache
def _neutral() -> dict[str, tuple[str, str]]:
    return {str(k): v for k, v in NEUTRAL.items()}


def explain(category: str, channel: str = "", code: str = "") -> Explanation:
    """What ``category`` means on ``channel``, and what to do.

    A provider ``code`` has words of its own only with the category it gives (an earlier attempt's code
    left on the delivery never explains a different failure). No channel: the channel-neutral words.
    An empty or unknown category: :data:`NONE` (falsy).
    """
    category = str(category or "")
    if category not in _neutral():
        return NONE
    words = _channel_words().get(str(channel or ""))
    if words is not None:
        found = words.by_code.get((category, str(code or "").strip())) or words.by_category.get(category)
        if found is not None:
            return Explanation(*found)
    return Explanation(*_neutral()[category])


def channel_words(channel: str) -> dict[str, Explanation]:
    """Every category's words on ``channel`` (the neutral words where it has none), in seed order."""
    return {str(c): explain(str(c), channel) for c in Category}
