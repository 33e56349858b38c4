"""The delivery-failure taxonomy: the categories every channel's failures are mapped onto.

Every failure (an SMTP reply, an ESP's tracking event, a Twilio error code or call status, a fax
result) becomes one of the 16 staff-facing categories of the seed's "Possible Message Errors" list,
the bounce categories of the PowerMTA family of mail servers plus two of our own (DNS and Domain
DNS: the address, or its whole domain, is on the Do-Not-Send list). Hard or soft is decided by the
category, never by the channel or the SMTP class alone: a ``552 5.2.2`` mailbox-full reply is
permanent by code but Quota-Issues is soft and is retried. A provider that refuses because the
address is on its *own* suppression list tried no mailbox: that is DNS (hard), like our own list.

A classifier gathers :class:`Evidence` (a category with a strength); the strongest wins
(:func:`strongest`), and transient evidence never yields a hard category (:func:`from_evidence`).

Public API: :class:`Category`, :data:`CATEGORIES`, :data:`CATEGORY_CHOICES`, :class:`Classification`,
and for classifiers :func:`make_classification`, :class:`Evidence`, :class:`CodeRule`,
:func:`strongest`, :func:`from_evidence` and the value readers :func:`as_text`, :func:`as_int`,
:func:`as_lower`, :func:`normalise_name`. The classifiers themselves live with what they read:

* SMTP replies and DSN diagnostics: :mod:`bounces.smtp` (its rule tables in :mod:`bounces.smtp_rules`)
* ESP tracking events: ``messaging/channels/email/esp.py``
* Twilio message errors: ``messaging/channels/twilio/errors.py``; calls: ``messaging/channels/voice/errors.py``
* fax results: ``messaging/channels/fax/errors.py``
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

# ---------------------------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------------------------


class Category(StrEnum):
    """The staff-facing categories; the value is the stored, spelled name."""

    hard: bool
    explanation: str

    def __new__(cls, value: str, hard: bool, explanation: str) -> Category:
        member = str.__new__(cls, value)
        member._value_ = value
        member.hard = hard
        member.explanation = explanation
        return member

    # Hard bounces
    BAD_DOMAIN = (
        "Bad-Domain",
        True,
        'The domain email address is incorrect, i.e., what is after the "at" symbol (@).',
    )
    BAD_MAILBOX = ("Bad-Mailbox", True, "The email box is invalid.")
    DNS = (
        "DNS",
        True,
        "Do Not Send. The client is on the no send list - The Do Not Send list is a list "
        "compiled under your account for whenever a recipient clicks on the unsubscribe "
        "button. This in turn puts that specific email address on the DNS list.",
    )
    DOMAIN_DNS = (
        "Domain DNS",
        True,
        "The entire domain @domain.com has been added to your DNS list or is on the globally blocked domain DNS list.",
    )
    INACTIVE_MAILBOX = (
        "Inactive-Mailbox",
        True,
        "Client's SMTP Server has answered and told the messaging service email server that "
        "the email is no longer active.",
    )
    # Soft bounces
    POLICY_RELATED = (
        "Policy-Related",
        False,
        "The email passed through the spam filter but was stopped by the recipient's email box settings.",
    )
    CONTENT_RELATED = (
        "Content-Related",
        False,
        "The email was blocked due to some of the content in the body of the email.",
    )
    RELAYING_ISSUES = (
        "Relaying-Issues",
        False,
        "The messaging service SMTP service had trouble connecting to the recipients SMTP service.",
    )
    ROUTING_ERRORS = (
        "Routing-Errors",
        False,
        "The messaging service SMTP service made the connection to the recipients SMTP "
        "service but the email packet was unable to be delivered correctly to the mailbox.",
    )
    SPAM_RELATED = (
        "Spam-Related",
        False,
        "The email was blocked by the recipients SMTP's spam filter.",
    )
    BAD_CONFIGURATION = (
        "Bad-Configuration",
        False,
        "The messaging service SMTP service made the connection to the recipients SMTP "
        "service but the email packet could not be delivered correctly to the mailbox.",
    )
    BAD_CONNECTION = (
        "Bad-Connection",
        False,
        "The messaging service SMTP service made the connection to the recipients SMTP "
        "service but the email packet was dropped due to a poor connection.",
    )
    MESSAGE_EXPIRED = (
        "Message-Expired",
        False,
        "The messaging service SMTP service connected with the recipient's SMTP service and "
        "there was sending for 5 minutes and the recipient's SMTP service closed its "
        "connection due to inactivity.",
    )
    NO_ANSWER_FROM_HOST = (
        "No-Answer-From-Host",
        False,
        "After the system default number of attempts and after client specified resends, the "
        "recipient's SMTP service did not answer the messaging service SMTP service.",
    )
    QUOTA_ISSUES = (
        "Quota-Issues",
        False,
        "The Client's email box has a size limit set and they have received too many emails "
        "in the box and cannot receive more emails.",
    )
    OTHER = (
        "Other",
        False,
        "The messaging service SMTP connected with the recipient's SMTP however, the "
        "connection was made for 5 minutes without a confirmation.",
    )

    @property
    def label(self) -> str:
        return self.value

    @property
    def kind(self) -> str:
        return "hard" if self.hard else "soft"


#: The 16 categories in seed order (hard first). Members are ``str``: ``"DNS" in CATEGORIES``.
CATEGORIES: tuple[Category, ...] = tuple(Category)
#: Django ``choices`` for a CharField (max_length 19 is enough).
CATEGORY_CHOICES: list[tuple[str, str]] = [(c.value, c.label) for c in Category]
HARD_CATEGORIES: frozenset[Category] = frozenset(c for c in Category if c.hard)
SOFT_CATEGORIES: frozenset[Category] = frozenset(c for c in Category if not c.hard)

_C = Category


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    """Outcome of classifying one failure.

    ``hard`` always equals the category's kind; ``retryable`` defaults to ``not hard``.
    ``ours`` marks failures caused by our own configuration (sender, account, document),
    which staff must be told about: resending unchanged will fail the same way.
    """

    category: str
    hard: bool
    reason: str = ""
    retryable: bool | None = None
    ours: bool = False

    def __post_init__(self) -> None:
        category = Category(self.category)  # ValueError for an unknown name
        if category.hard != self.hard:
            raise ValueError(f"{category} is {category.kind}, not hard={self.hard}")
        object.__setattr__(self, "category", category)
        if self.retryable is None:
            object.__setattr__(self, "retryable", not self.hard)

    @property
    def label(self) -> str:
        return Category(self.category).label

    @property
    def explanation(self) -> str:
        return Category(self.category).explanation

    @property
    def kind(self) -> str:
        return "hard" if self.hard else "soft"


def make_classification(category: Category, reason: str, *, ours: bool = False) -> Classification:
    """A classification whose hard or soft follows its category."""
    return Classification(category=category, hard=category.hard, reason=reason, ours=ours)


# ---------------------------------------------------------------------------------------------
# Evidence: a category with a strength; the strongest wins
# ---------------------------------------------------------------------------------------------


class Evidence(NamedTuple):
    category: Category
    strength: int
    reason: str
    ours: bool = False


class CodeRule(NamedTuple):
    category: Category
    strength: int
    ours: bool = False


#: A transient (4xx / 4.x.x / ESP "soft") failure can never be a hard bounce: a hard category
#: found in transient evidence becomes the nearest soft one ("connected, but the message could
#: not be routed to the mailbox").
_SOFT_COUNTERPART: dict[Category, Category] = {
    _C.BAD_DOMAIN: _C.ROUTING_ERRORS,
    _C.BAD_MAILBOX: _C.ROUTING_ERRORS,
    _C.INACTIVE_MAILBOX: _C.ROUTING_ERRORS,
}


def strongest(evidence: Iterable[Evidence | None]) -> Evidence | None:
    """The strongest piece of evidence (the first of equals), or None."""
    best: Evidence | None = None
    for item in evidence:
        if item is not None and (best is None or item.strength > best.strength):
            best = item
    return best


def from_evidence(evidence: Evidence, transient: bool) -> Classification:
    """The classification ``evidence`` gives; for a transient failure a hard category becomes soft."""
    category, reason = evidence.category, evidence.reason
    if transient and category in _SOFT_COUNTERPART:
        category = _SOFT_COUNTERPART[category]
        reason = f"{reason} (transient)"
    return make_classification(category, reason, ours=evidence.ours)


# ---------------------------------------------------------------------------------------------
# Reading provider values (strings, numbers and form fields arrive in every shape)
# ---------------------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """``value`` as text; "" for None and for containers (a nested payload is no diagnostic)."""
    if value is None or isinstance(value, Mapping | list | tuple | set | bytes):
        return ""
    return str(value)


def as_int(value: Any) -> int | None:
    """An integer code from an int, an integral float or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(as_text(value).strip())
    except ValueError:
        return None


def as_lower(value: Any) -> str:
    return as_text(value).strip().lower()


def normalise_name(name: Any) -> str:
    """A vocabulary name as lower-case alphanumerics: "Bad-Mailbox" and "bad_mailbox" → "badmailbox"."""
    return re.sub(r"[^a-z0-9]", "", as_text(name).lower())
