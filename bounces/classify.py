"""Delivery-failure classification for every channel (e-mail, SMS, voice, fax).

Every failure is mapped onto the 16 staff-facing categories of the seed's "Possible Message
Errors" list (see ``docs/bounce-taxonomy.md``). Hard or soft is decided by the category, never
by the channel or the SMTP class alone: a ``552 5.2.2`` mailbox-full reply is permanent by code
but Quota-Issues is soft and is retried.

Public API (other modules import these exact names):

* :class:`Category`, :data:`CATEGORIES`, :data:`CATEGORY_CHOICES`
* :class:`Classification`
* :func:`classify_smtp`, :func:`classify_tracking_event`, :func:`classify_sms_error`,
  :func:`classify_call`, :func:`classify_fax`, :func:`classify_mapping`

E-mail classification is data driven: :data:`ENHANCED_STATUS_RULES` (RFC 3463 codes),
:data:`BASIC_CODE_RULES` (RFC 5321 reply codes) and :data:`TEXT_RULES` (regular expressions over
the diagnostic text) each give a category with a *strength*; the strongest piece of evidence
wins, so specific text ("mailbox full", "blocked using Spamhaus") beats a generic code
(``5.1.1``, ``5.7.1``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

log = logging.getLogger(__name__)


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


def _make(category: Category, reason: str, *, ours: bool = False) -> Classification:
    return Classification(category=category, hard=category.hard, reason=reason, ours=ours)


# ---------------------------------------------------------------------------------------------
# Evidence: a category with a strength; the strongest wins
# ---------------------------------------------------------------------------------------------


class _Evidence(NamedTuple):
    category: Category
    strength: int
    reason: str
    ours: bool = False


class _CodeRule(NamedTuple):
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


def _strongest(evidence: Iterable[_Evidence | None]) -> _Evidence | None:
    best: _Evidence | None = None
    for item in evidence:
        if item is not None and (best is None or item.strength > best.strength):
            best = item
    return best


def _finish(evidence: _Evidence, transient: bool) -> Classification:
    category, reason = evidence.category, evidence.reason
    if transient and category in _SOFT_COUNTERPART:
        category = _SOFT_COUNTERPART[category]
        reason = f"{reason} (transient)"
    return _make(category, reason, ours=evidence.ours)


# ---------------------------------------------------------------------------------------------
# SMTP tables
# ---------------------------------------------------------------------------------------------

#: RFC 3463 enhanced status codes, class written as ``X``. ``"X.4"`` is the subject default,
#: ``"X.4.7"`` an exact code. Strengths: subject defaults 15-30, exact codes 40-75.
ENHANCED_STATUS_RULES: dict[str, _CodeRule] = {
    "X.0.0": _CodeRule(_C.OTHER, 5),
    # X.1 addressing
    "X.1": _CodeRule(_C.BAD_MAILBOX, 20),
    "X.1.0": _CodeRule(_C.BAD_MAILBOX, 25),
    "X.1.1": _CodeRule(_C.BAD_MAILBOX, 50),
    "X.1.2": _CodeRule(_C.BAD_DOMAIN, 50),
    "X.1.3": _CodeRule(_C.BAD_MAILBOX, 50),
    "X.1.4": _CodeRule(_C.BAD_MAILBOX, 40),
    "X.1.5": _CodeRule(_C.OTHER, 10),
    "X.1.6": _CodeRule(_C.BAD_MAILBOX, 50),
    "X.1.7": _CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),
    "X.1.8": _CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),
    # RFC 7505 null MX; Exchange also uses 5.1.10 for "recipient not found" (text decides)
    "X.1.10": _CodeRule(_C.BAD_DOMAIN, 30),
    # X.2 mailbox
    "X.2": _CodeRule(_C.BAD_MAILBOX, 20),
    "X.2.1": _CodeRule(_C.INACTIVE_MAILBOX, 50),
    "X.2.2": _CodeRule(_C.QUOTA_ISSUES, 60),
    "X.2.3": _CodeRule(_C.CONTENT_RELATED, 40),
    "X.2.4": _CodeRule(_C.BAD_CONFIGURATION, 30),
    # X.3 mail system
    "X.3": _CodeRule(_C.BAD_CONFIGURATION, 20),
    "X.3.1": _CodeRule(_C.QUOTA_ISSUES, 40),
    "X.3.4": _CodeRule(_C.CONTENT_RELATED, 50),
    # X.4 network and routing
    "X.4": _CodeRule(_C.ROUTING_ERRORS, 20),
    "X.4.1": _CodeRule(_C.NO_ANSWER_FROM_HOST, 40),
    "X.4.2": _CodeRule(_C.BAD_CONNECTION, 40),
    "X.4.3": _CodeRule(_C.ROUTING_ERRORS, 40),
    "X.4.4": _CodeRule(_C.ROUTING_ERRORS, 40),
    "X.4.6": _CodeRule(_C.ROUTING_ERRORS, 40),
    "X.4.7": _CodeRule(_C.MESSAGE_EXPIRED, 50),
    # X.5 protocol: our side
    "X.5": _CodeRule(_C.BAD_CONFIGURATION, 30, ours=True),
    # X.6 content / media
    "X.6": _CodeRule(_C.CONTENT_RELATED, 40),
    # X.7 security / policy
    "X.7": _CodeRule(_C.POLICY_RELATED, 20),
    "X.7.0": _CodeRule(_C.POLICY_RELATED, 15),
    "X.7.8": _CodeRule(_C.BAD_CONFIGURATION, 40, ours=True),
    "X.7.23": _CodeRule(_C.POLICY_RELATED, 50),  # SPF
    "X.7.25": _CodeRule(_C.POLICY_RELATED, 50),  # reverse DNS
    "X.7.26": _CodeRule(_C.POLICY_RELATED, 50),  # authentication / DMARC
    "X.7.27": _CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),  # our sender has null MX
    "X.7.28": _CodeRule(_C.SPAM_RELATED, 50),  # Gmail: unusual rate of unsolicited mail
    "X.7.57": _CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),  # O365: client not authenticated
    "X.7.64": _CodeRule(_C.RELAYING_ISSUES, 50),  # O365: TenantAttribution relay denied
    "X.7.509": _CodeRule(_C.POLICY_RELATED, 50),  # O365: DMARC reject
    "X.7.606": _CodeRule(_C.SPAM_RELATED, 75),  # O365: banned sending IP
    "X.7.607": _CodeRule(_C.SPAM_RELATED, 75),
    "X.7.608": _CodeRule(_C.SPAM_RELATED, 75),
    "X.7.705": _CodeRule(_C.SPAM_RELATED, 75),  # O365: tenant exceeded threshold
    "X.7.708": _CodeRule(_C.SPAM_RELATED, 75),  # O365: traffic not accepted from this IP
    "X.7.750": _CodeRule(_C.SPAM_RELATED, 75),
}

#: RFC 5321 basic reply codes: the weakest evidence, used when nothing else is known.
BASIC_CODE_RULES: dict[int, _CodeRule] = {
    421: _CodeRule(_C.BAD_CONNECTION, 8),
    450: _CodeRule(_C.OTHER, 5),
    451: _CodeRule(_C.OTHER, 5),
    452: _CodeRule(_C.QUOTA_ISSUES, 8),
    500: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    501: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    502: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    503: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    504: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    521: _CodeRule(_C.BAD_DOMAIN, 8),  # RFC 7504: host does not accept mail
    530: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    550: _CodeRule(_C.OTHER, 5),
    551: _CodeRule(_C.BAD_MAILBOX, 10),
    552: _CodeRule(_C.QUOTA_ISSUES, 8),
    553: _CodeRule(_C.BAD_MAILBOX, 8),
    554: _CodeRule(_C.OTHER, 5),
    555: _CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    556: _CodeRule(_C.BAD_DOMAIN, 8),  # RFC 7504: domain does not accept mail
}


class TextRule(NamedTuple):
    """A diagnostic-text pattern; higher ``priority`` wins (codes are 5-75)."""

    priority: int
    category: Category
    pattern: re.Pattern[str]
    ours: bool = False


def _rule(priority: int, category: Category, *alternatives: str, ours: bool = False) -> TextRule:
    pattern = re.compile("|".join(f"(?:{alt})" for alt in alternatives), re.IGNORECASE)
    return TextRule(priority, category, pattern, ours)


_WORDS = r"(?: [\w'@.-]+){0,6}?"  # up to six words between a noun and its verb

#: Diagnostic-text patterns, strongest first.
TEXT_RULES: tuple[TextRule, ...] = (
    # Office 365 directory-based edge blocking: the recipient does not exist
    _rule(100, _C.BAD_MAILBOX, r"\bAS\(201806281\)"),
    # Our sender refused (PowerMTA "invalid-sender"): our configuration
    _rule(
        96,
        _C.BAD_CONFIGURATION,
        r"sender address rejected",
        r"sender (?:address|domain) (?:is )?(?:invalid|unknown|not found|does not exist|must "
        r"exist)",
        r"(?:invalid|bad|unknown) sender",
        r"sender verif\w* failed",
        r"verification failed for <",
        r"bad outbound sender",
        r"send as this sender",
        r"sender has no (?:a|aaaa|mx)\b",
        r"not authenticated to send",
        r"client was not authenticated",
        r"authentication required to (?:send|relay)",
        ours=True,
    ),
    # Block lists and reputation
    _rule(
        95,
        _C.SPAM_RELATED,
        r"spamhaus|spamcop|uceprotect|cloudmark|senderscore|\bsorbs\b",
        r"barracuda ?(?:central|reputation)",
        r"\b(?:rbl|dnsbl|uribl|surbl)s?\b",
        r"black ?list|block ?list",
        r"ipcheck\.proofpoint",
        r"blocked using",
        r"\b(?:is|are|was|been) listed (?:at|in|on|by)\b",
        r"\breputation\b",
        r"\[TSS\d+\]|\bTS0\d\b|RLY:B\d|HVU:B\d",
        r"banned sending ip",
        r"traffic not accepted from this ip",
        r"sender\.office\.com",
    ),
    # Mailbox full / over quota / receiving too fast
    _rule(
        92,
        _C.QUOTA_ISSUES,
        r"mail ?box (?:is |was )?(?:full|over ?quota)",
        r"over ?quota",
        r"quota (?:exceeded|exceed|full|limit)",
        r"exceeded (?:its |the |their |his |her )?(?:storage|quota|mail ?box)",
        r"mail ?box (?:size limit|has exceeded|exceeds|would exceed)",
        r"(?:inbox|mail ?folder|account) (?:is |was )?full",
        r"insufficient (?:disk |system )?(?:space|storage)",
        r"not enough (?:disk )?space",
        r"storage (?:allocation|limit|space)",
        r"quotaexceeded",
        r"receiving mail (?:at a rate|too quickly)",
        r"too many messages (?:for|to) this (?:user|recipient|mail ?box)",
        r"user is over",
    ),
    # The domain does not exist or accepts no mail
    _rule(
        90,
        _C.BAD_DOMAIN,
        r"host or domain name not found",
        r"name service error",
        r"domain (?:name )?not found",
        r"domain (?:[\w.-]+ )?(?:does not|doesn't|did not) exist",
        r"no such domain",
        r"non-?existent domain",
        r"unrouteable (?:mail )?domain",
        r"unknown domain|invalid domain",
        r"\b(?:domain|host) (?:is )?(?:invalid|unknown)\b",
        r"no (?:valid )?mx (?:record|host)s?",
        r"no mx for",
        r"null mx",
        r"infodomainnonexistent|nxdomain",
        r"does not accept mail",
        r"mx records point to non-?existent hosts",
        r"domain (?:has )?no (?:mx|dns)",
        r"domain is not (?:hosted|served|configured)",
        r"bad destination system address",
    ),
    # The mailbox exists but is disabled
    _rule(
        88,
        _C.INACTIVE_MAILBOX,
        rf"(?:mail ?box|account|user|address|recipient){_WORDS} (?:is|has been|was|are) "
        r"(?:currently |now |temporarily )?(?:disabled|inactive|deactivated|suspended|closed|"
        r"discontinued|frozen|expired)",
        r"(?:disabled|inactive|deactivated|suspended|closed|expired) (?:mail ?box|account|user|"
        r"recipient|address)",
        r"(?:mail ?box|account) (?:disabled|inactive|deactivated|suspended)",
        r"no longer (?:active|valid|in use|available|accepting)",
        r"\(554\.30\)",
    ),
    # Spam filters
    _rule(
        85,
        _C.SPAM_RELATED,
        r"\bspam\b|spammy|unsolicited|\bUBE\b",
        r"bulk (?:e-?)?mail|junk ?mail",
        r"(?:user|recipient) complaints",
    ),
    # The mailbox does not exist
    _rule(
        84,
        _C.BAD_MAILBOX,
        r"user unknown|unknown user|recipient unknown|addressee unknown",
        r"(?:no such|invalid|unknown|bad) (?:user|mail ?box|recipient|address|account|"
        r"local ?part|person)",
        rf"(?:user|mail ?box|recipient|address|account|addressee){_WORDS} (?:does not|doesn't|"
        r"did not|not) exist",
        r"(?:user|mail ?box|recipient|addressee|account) (?:not found|unknown)",
        r"not a valid (?:mail ?box|user|recipient|address|e-?mail)",
        r"recip(?:ient)?notfound|recipient not found",
        r"unrouteable address",
        r"no mail ?box here",
        r"not our customer",
        r"doesn't have an? .{0,40}account",
        r"bad destination mail ?box",
        r"unknown or illegal alias",
        r"undeliverable address",
    ),
    # Viruses and dangerous attachments (PowerMTA "virus-related")
    _rule(
        80,
        _C.CONTENT_RELATED,
        r"virus|malware|infected|trojan|phish|malicious",
        r"(?:dangerous|prohibited|banned|blocked|forbidden) (?:attachment|file|content)",
        r"(?:attachment|file) (?:type )?(?:is )?(?:not allowed|blocked|rejected|prohibited|"
        r"banned)",
        r"security (?:issue|threat)",
    ),
    # Message too large
    _rule(
        78,
        _C.CONTENT_RELATED,
        r"message (?:size )?(?:is )?too (?:large|big|long)",
        r"(?:message|email|e-mail) (?:size )?exceeds?",
        r"exceeds? (?:the )?(?:maximum |max )?(?:message |allowed )?size",
        r"size (?:limit|exceeds)",
        r"(?:too large|too big) for",
        r"recipsizelimit|message length exceeds",
    ),
    _rule(77, _C.NO_ANSWER_FROM_HOST, r"(?:have|has) been failing for a long time"),
    _rule(
        76,
        _C.RELAYING_ISSUES,
        r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed)|prohibited)",
        r"(?:unable to|not permitted to|not allowed to|cannot|can't|we do not) relay",
        r"open relay|no relaying|relay access",
    ),
    _rule(
        75,
        _C.MESSAGE_EXPIRED,
        r"message expired",
        r"(?:delivery|message|queue) (?:time|lifetime) (?:expired|exceeded)",
        r"queue\.expired",
        r"expired (?:in|after|while in) (?:the )?queue",
        r"retry time(?:out)? (?:not reached|exceeded)",
        r"too long in (?:the )?queue",
        r"could not be delivered (?:for|within) \d+",
        r"(?:exceeded|reached) (?:the )?(?:maximum )?(?:queue|retry|delivery) (?:time|lifetime|"
        r"period)",
    ),
    _rule(
        74,
        _C.NO_ANSWER_FROM_HOST,
        r"connection timed out|timed out while connecting|timeout connecting",
        r"connect(?:ion)? to .{0,120}?(?:timed out|refused)",
        r"connection refused",
        r"no route to host|network is unreachable|host (?:is )?unreachable",
        r"(?:did|does) not (?:respond|answer)|not responding|no answer",
        r"(?:unable|failed|could not|couldn't) (?:to )?connect",
    ),
    # Reverse DNS / PTR of our sending IP: the recipient's policy
    _rule(
        73,
        _C.POLICY_RELATED,
        r"reverse (?:dns|hostname|lookup)|\bptr\b|\brdns\b",
        r"cannot find your (?:reverse )?hostname",
    ),
    _rule(
        72,
        _C.BAD_CONNECTION,
        r"lost connection",
        r"connection (?:was )?(?:dropped|reset|closed|lost|broken|terminated)",
        r"broken pipe|reset by peer|socket error|read error",
        r"unexpected (?:eof|disconnect|end of file)",
        r"(?:tls|ssl) (?:handshake )?(?:failed|failure|error|negotiation failed)",
        r"conversation with .{0,120}? timed out",
        r"timed out while (?:sending|receiving)",
        r"timeout (?:while|during) (?:sending|receiving|reading|data)",
    ),
    _rule(
        71,
        _C.ROUTING_ERRORS,
        r"mail loop|loops? back to myself|hop count|too many hops|routing loop|loop detected",
        r"(?:unable to|cannot|can't) (?:be )?route|no route for|routing (?:error|failure)",
        r"misrouted",
        r"(?:dns|name) (?:query|lookup|resolution) (?:failed|failure|error|timed out)",
        r"temporary (?:dns|lookup|name resolution) failure",
        r"dns (?:error|failure|timeout)|servfail",
    ),
    _rule(
        70,
        _C.POLICY_RELATED,
        r"polic(?:y|ies)",
        r"not authori[sz]ed|access denied",
        r"administrative(?:ly)? prohibit|prohibited",
        r"rejected by (?:the )?(?:recipient|local|domain|server|administrator)",
        r"blocked by (?:the )?recipient|blocked senders?|sender (?:is )?blocked|envelope blocked",
        r"gr[ae]y ?list",
        r"rate limit|throttl|too many (?:connections|messages|concurrent)",
        r"dmarc|\bspf\b|dkim|unauthenticated",
        r"authentication (?:failed|failure|required|check)",
        r"delivery restriction|external forwarding|spoof",
    ),
    # SMTP protocol errors (PowerMTA "protocol-errors"): our configuration
    _rule(
        69,
        _C.BAD_CONFIGURATION,
        r"syntax error",
        r"(?:unrecognized|unknown|invalid|bad) command|bad sequence of commands",
        r"command (?:not implemented|unrecognized)",
        r"protocol (?:error|violation)|line too long",
        r"must issue a starttls|(?:starttls|tls) (?:is )?required|must use (?:starttls|tls)",
        r"smtputf8|8-?bit(?:mime)? (?:not supported|data)",
        r"too many recipients",
        ours=True,
    ),
    _rule(
        60,
        _C.BAD_CONFIGURATION,
        r"misconfigur|configuration error|config error|local configuration",
    ),
    _rule(
        50,
        _C.CONTENT_RELATED,
        r"\bcontent\b|malformed|improperly formatted|bare (?:lf|linefeed)",
        r"invalid (?:mime|header|message)",
        r"(?:headers?|message) (?:is |are )?(?:malformed|invalid|not rfc|not compliant)",
        r"message (?:body|text) (?:rejected|blocked)",
    ),
    # Generic refusals
    _rule(45, _C.POLICY_RELATED, r"\bblocked\b|\bdenied\b|\brefused\b|\bforbidden\b"),
    _rule(
        18,
        _C.BAD_MAILBOX,
        r"mail ?box (?:is )?(?:temporarily )?unavailable",
        r"recipient (?:address )?rejected",
    ),
)


# ---------------------------------------------------------------------------------------------
# SMTP analysis
# ---------------------------------------------------------------------------------------------

_ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_BASIC_RES = (
    re.compile(r"^\s*(?:[\w-]+;\s*)?([45]\d\d)(?=[\s-]|$)"),  # "550 ...", "smtp; 550-..."
    re.compile(r"said:\s*([45]\d\d)(?=[\s-]|$)"),  # Postfix "host x said: 550 ..."
    re.compile(r"(?:(?<=\s)|(?<=\())([45]\d\d)(?=[ -])"),  # anywhere else
)
_SPACES_RE = re.compile(r"\s+")
#: Without any code, these words mark a transient failure (Postfix "Host not found, try again").
_TRANSIENT_TEXT_RE = re.compile(r"try again|temporar(?:y|ily)|deferred", re.IGNORECASE)


class _Analysis(NamedTuple):
    evidence: list[_Evidence]
    transient: bool | None


def _text(value: Any) -> str:
    if value is None or isinstance(value, Mapping | list | tuple | set | bytes):
        return ""
    return str(value)


def _normalise(text: Any) -> str:
    return _SPACES_RE.sub(" ", _text(text)).strip()


def find_enhanced_code(text: str) -> str | None:
    """The first RFC 3463 status code in ``text`` ("5.1.1"), or None."""
    match = _ENHANCED_RE.search(text or "")
    return ".".join(match.groups()) if match else None


def _find_basic_code(text: str) -> int | None:
    for regex in _BASIC_RES:
        match = regex.search(text)
        if match:
            return int(match.group(1))
    return None


def _enhanced_evidence(code: str | None) -> _Evidence | None:
    if not code or code[0] == "2":
        return None
    _cls, subject, detail = code.split(".")
    rule = ENHANCED_STATUS_RULES.get(f"X.{subject}.{detail}") or ENHANCED_STATUS_RULES.get(f"X.{subject}")
    if rule is None:
        return None
    return _Evidence(rule.category, rule.strength, f"enhanced {code}", rule.ours)


def _basic_evidence(code: int | None) -> _Evidence | None:
    rule = BASIC_CODE_RULES.get(code) if code else None
    if rule is None:
        return None
    return _Evidence(rule.category, rule.strength, f"basic {code}", rule.ours)


_RULES_BY_PRIORITY = sorted(TEXT_RULES, key=lambda rule: -rule.priority)


def _text_evidence(text: str, penalty: int = 0) -> _Evidence | None:
    for rule in _RULES_BY_PRIORITY:  # strongest first: the first match is the best evidence
        match = rule.pattern.search(text)
        if match:
            snippet = match.group(0)[:40]
            return _Evidence(rule.category, rule.priority - penalty, f"text '{snippet}'", rule.ours)
    return None


def _analyse_smtp(reply: Any, status: Any = None, penalty: int = 0) -> _Analysis:
    text = _normalise(reply)
    enhanced = find_enhanced_code(text) or find_enhanced_code(_normalise(status))
    basic = _find_basic_code(text)
    evidence = [
        _text_evidence(text, penalty),
        _enhanced_evidence(enhanced),
        _basic_evidence(basic),
    ]
    if enhanced and enhanced[0] in "45":
        transient: bool | None = enhanced[0] == "4"
    elif basic:
        transient = basic < 500
    elif _TRANSIENT_TEXT_RE.search(text):
        transient = True
    else:
        transient = None
    return _Analysis([e for e in evidence if e is not None], transient)


def classify_smtp(reply: str, *, status: str | None = None, transient: bool | None = None) -> Classification:
    """Classify an SMTP reply or DSN diagnostic line.

    ``status`` is a DSN ``Status:`` value used when the reply carries no enhanced code.
    ``transient`` forces (True) or forbids (False) the transient downgrade of hard categories;
    by default it follows the reply's class (4.x.x / 4xx is transient).
    """
    analysis = _analyse_smtp(reply, status)
    best = _strongest(analysis.evidence) or _Evidence(_C.OTHER, 0, "unclassified")
    is_transient = analysis.transient if transient is None else transient
    return _finish(best, bool(is_transient))


# ---------------------------------------------------------------------------------------------
# Other bounce vocabularies (PowerMTA, KumoMTA / Momentum names)
# ---------------------------------------------------------------------------------------------

#: Category names used by other mail servers and ESPs, normalised to lower-case alphanumerics.
MAPPED_NAMES: dict[str, _CodeRule] = {
    **{re.sub(r"[^a-z0-9]", "", c.value.lower()): _CodeRule(c, 100) for c in Category},
    "donotsend": _CodeRule(_C.DNS, 100),
    "routingissues": _CodeRule(_C.ROUTING_ERRORS, 100),  # seed spelling
    "invalidsender": _CodeRule(_C.BAD_CONFIGURATION, 100, ours=True),
    "protocolerrors": _CodeRule(_C.BAD_CONFIGURATION, 100, ours=True),
    "virusrelated": _CodeRule(_C.CONTENT_RELATED, 100),
    "invalidrecipient": _CodeRule(_C.BAD_MAILBOX, 100),
    "dnsfailure": _CodeRule(_C.ROUTING_ERRORS, 100),
    "spamblock": _CodeRule(_C.SPAM_RELATED, 100),
    "spamcontent": _CodeRule(_C.SPAM_RELATED, 100),
    "prohibitedattachment": _CodeRule(_C.CONTENT_RELATED, 100),
    "relaydenied": _CodeRule(_C.RELAYING_ISSUES, 100),
    "transientfailure": _CodeRule(_C.OTHER, 100),
    "authenticationfailed": _CodeRule(_C.POLICY_RELATED, 100),
    "toomanyrecipients": _CodeRule(_C.BAD_CONFIGURATION, 100, ours=True),
    "uncategorized": _CodeRule(_C.OTHER, 100),
    "undetermined": _CodeRule(_C.OTHER, 100),
    "unknown": _CodeRule(_C.OTHER, 100),
}


def _normalise_name(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", _text(name).lower())


def classify_mapping(name: str) -> Classification:
    """Map another system's bounce-category name onto ours.

    Accepts our own names, the PowerMTA family (``bad-mailbox``, ``invalid-sender``,
    ``protocol-errors`` → Bad-Configuration (ours), ``virus-related`` → Content-Related) and
    KumoMTA/Momentum names (``InvalidRecipient``, ``SpamBlock``, ...). Unknown → Other.
    """
    key = _normalise_name(name)
    rule = MAPPED_NAMES.get(key)
    if rule is None:
        return _make(_C.OTHER, f"unknown category name {name!r}")
    return _make(rule.category, f"mapped {name}", ours=rule.ours)


# ---------------------------------------------------------------------------------------------
# ESP tracking events (django-anymail)
# ---------------------------------------------------------------------------------------------

_FAILURE_EVENTS = frozenset({"bounced", "failed", "rejected", "deferred"})
_OPT_OUT_EVENTS = frozenset({"complained", "unsubscribed"})
_DESCRIPTION_PENALTY = 30  # ESP descriptions are generic per type; MTA text is better evidence


@dataclass
class EspFacts:
    """What an ESP's raw payload says beyond anymail's normalised fields."""

    esp: str = ""
    hard: bool | None = None
    evidence: list[_Evidence] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    status: str = ""
    suppressed: str = ""  # reason, when the provider refused because of its own list
    is_bounce: bool = False  # a "complained" event that is really a spam-filter bounce

    def add(self, rule: _CodeRule | None, reason: str) -> None:
        if rule is not None:
            self.evidence.append(_Evidence(rule.category, rule.strength, reason, rule.ours))


_SUPPRESS = _CodeRule(_C.DNS, 1000)  # marker in ESP tables: provider-side suppression


def _apply(facts: EspFacts, rule: _CodeRule | None, reason: str) -> None:
    if rule is _SUPPRESS:
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
    return value is True or _text(value).strip().lower() in {"true", "1", "yes"}


def _lower(value: Any) -> str:
    return _text(value).strip().lower()


# --- Amazon SES (also the basis of Resend's bounce objects) ---

_SES_BOUNCE_TYPES: dict[str, bool] = {"permanent": True, "transient": False}
_SES_SUBTYPES: dict[str, _CodeRule] = {
    "suppressed": _SUPPRESS,
    "onaccountsuppressionlist": _SUPPRESS,
    "noemail": _CodeRule(_C.BAD_MAILBOX, 60),
    "mailboxfull": _CodeRule(_C.QUOTA_ISSUES, 90),
    "messagetoolarge": _CodeRule(_C.CONTENT_RELATED, 90),
    "contentrejected": _CodeRule(_C.CONTENT_RELATED, 60),
    "attachmentrejected": _CodeRule(_C.CONTENT_RELATED, 90),
}
_SES_DELAY_TYPES: dict[str, _CodeRule] = {
    "mailboxfull": _CodeRule(_C.QUOTA_ISSUES, 90),
    "spamdetected": _CodeRule(_C.SPAM_RELATED, 80),
    "ipfailure": _CodeRule(_C.SPAM_RELATED, 70),
    "transientcommunicationfailure": _CodeRule(_C.BAD_CONNECTION, 70),
    "byoiphostnamelookupunavailable": _CodeRule(_C.BAD_CONFIGURATION, 70, ours=True),
    "recipientservererror": _CodeRule(_C.OTHER, 40),
}


def _ses_bounce(facts: EspFacts, bounce: Mapping[str, Any], recipient: str) -> None:
    facts.hard = _SES_BOUNCE_TYPES.get(_lower(bounce.get("bounceType")))
    subtype = _lower(bounce.get("bounceSubType"))
    _apply(facts, _SES_SUBTYPES.get(subtype), f"{facts.esp} bounceSubType {subtype}")
    for item in bounce.get("bouncedRecipients") or ():
        if isinstance(item, Mapping) and _lower(item.get("emailAddress")) == recipient:
            facts.status = _text(item.get("status"))
            facts.texts.append(_text(item.get("diagnosticCode")))


def _is_ses(raw: Mapping[str, Any]) -> bool:
    kind = _lower(raw.get("eventType") or raw.get("notificationType"))
    return bool(kind) and ("mail" in raw or kind in {"bounce", "complaint", "reject"})


def _ses(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    kind = _lower(raw.get("eventType") or raw.get("notificationType"))
    facts = EspFacts(esp="SES")
    if kind == "bounce" and isinstance(raw.get("bounce"), Mapping):
        _ses_bounce(facts, raw["bounce"], recipient)
    elif kind == "reject":  # SES found a virus
        facts.add(_CodeRule(_C.CONTENT_RELATED, 90), "SES reject: bad content")
        facts.texts.append(_text(_dig(raw, "reject", "reason")))
    elif kind == "rendering failure":
        facts.add(_CodeRule(_C.BAD_CONFIGURATION, 90, ours=True), "SES rendering failure")
    elif kind == "deliverydelay":
        facts.hard = False
        delay = _lower(_dig(raw, "deliveryDelay", "delayType"))
        facts.add(_SES_DELAY_TYPES.get(delay), f"SES delayType {delay}")
    return facts


# --- Mailgun ---

_MAILGUN_SEVERITY: dict[str, bool] = {"permanent": True, "temporary": False}
_MAILGUN_REASONS: dict[str, _CodeRule] = {
    "suppress-bounce": _SUPPRESS,
    "suppress-complaint": _SUPPRESS,
    "suppress-unsubscribe": _SUPPRESS,
    "hardfail": _SUPPRESS,  # "not delivering to previously bounced address"
    "old": _CodeRule(_C.MESSAGE_EXPIRED, 80),
    "maxfails": _CodeRule(_C.MESSAGE_EXPIRED, 80),
    "greylisted": _CodeRule(_C.POLICY_RELATED, 70),
    "espblock": _CodeRule(_C.SPAM_RELATED, 60),
}
_MAILGUN_CODES: dict[int, _CodeRule] = {
    605: _SUPPRESS,  # previously bounced
    606: _SUPPRESS,  # previously unsubscribed
    607: _SUPPRESS,  # previously complained
    499: _CodeRule(_C.NO_ANSWER_FROM_HOST, 40),  # unable to connect to MX
}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(_text(value).strip())
    except ValueError:
        return None


def _mailgun_common(facts: EspFacts, reason: str, code: Any, text: str) -> None:
    _apply(facts, _MAILGUN_REASONS.get(reason), f"Mailgun reason {reason}")
    number = _int(code)
    if number is not None:
        _apply(facts, _MAILGUN_CODES.get(number), f"Mailgun code {number}")
        facts.texts.append(f"{number} {text}".strip())
    else:
        facts.status = _text(code)  # legacy webhooks may send "5.1.1" here
        facts.texts.append(text)


def _is_mailgun(raw: Mapping[str, Any]) -> bool:
    legacy = "event" in raw and ("token" in raw or "signature" in raw)
    return isinstance(raw.get("event-data"), Mapping) or legacy


def _mailgun(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    data = raw.get("event-data")
    if isinstance(data, Mapping):
        facts = EspFacts(esp="Mailgun", hard=_MAILGUN_SEVERITY.get(_lower(data.get("severity"))))
        status = data.get("delivery-status") if isinstance(data.get("delivery-status"), Mapping) else {}
        _mailgun_common(
            facts,
            _lower(data.get("reason")),
            status.get("code"),
            _normalise(status.get("message") or status.get("description")),
        )
        facts.status = facts.status or _text(status.get("enhanced-code") or status.get("bounce-code"))
        return facts
    # legacy POST webhooks (a QueryDict)
    event = _lower(raw.get("event"))
    facts = EspFacts(esp="Mailgun", hard=True if event == "bounced" else None)
    text = _text(raw.get("error") or raw.get("notification") or raw.get("description"))
    _mailgun_common(facts, _lower(raw.get("reason")), raw.get("code"), text)
    return facts


# --- Postmark ---

_POSTMARK_TYPES: dict[str, tuple[bool | None, _CodeRule | None]] = {
    "hardbounce": (True, None),
    "softbounce": (False, None),
    "transient": (False, None),
    "dnserror": (False, _CodeRule(_C.ROUTING_ERRORS, 60)),
    "manuallydeactivated": (True, _SUPPRESS),
    "manualsuppression": (True, _SUPPRESS),
    "spamnotification": (False, _CodeRule(_C.SPAM_RELATED, 90)),
    "virusnotification": (False, _CodeRule(_C.CONTENT_RELATED, 90)),
    "bademailaddress": (True, _CodeRule(_C.BAD_MAILBOX, 90)),
    "blocked": (False, _CodeRule(_C.SPAM_RELATED, 60)),
    "dmarcpolicy": (False, _CodeRule(_C.POLICY_RELATED, 90)),
    "unconfirmed": (False, _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
    "smtpapierror": (False, _CodeRule(_C.BAD_CONFIGURATION, 60, ours=True)),
    "templaterenderingfailed": (False, _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
    "openrelaytest": (False, _CodeRule(_C.OTHER, 30)),
}


def _is_postmark(raw: Mapping[str, Any]) -> bool:
    return "RecordType" in raw or "TypeCode" in raw


def _postmark(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    kind = _lower(raw.get("Type") or raw.get("SuppressionReason"))
    facts = EspFacts(esp="Postmark")
    hard, rule = _POSTMARK_TYPES.get(kind, (None, None))
    facts.hard = hard
    _apply(facts, rule, f"Postmark {kind}")
    facts.is_bounce = kind == "spamnotification"  # anymail reports it as "complained"
    return facts


# --- SparkPost, and Mandrill's bgtools_code (both use Momentum bounce classes) ---

_MOMENTUM_CLASSES: dict[str, tuple[bool | None, _CodeRule | None]] = {
    "1": (None, None),
    "10": (True, _CodeRule(_C.BAD_MAILBOX, 80)),
    "20": (False, None),
    "21": (False, _CodeRule(_C.ROUTING_ERRORS, 60)),
    "22": (False, _CodeRule(_C.QUOTA_ISSUES, 90)),
    "23": (False, _CodeRule(_C.CONTENT_RELATED, 90)),
    "24": (False, _CodeRule(_C.MESSAGE_EXPIRED, 70)),
    "25": (False, _CodeRule(_C.BAD_CONFIGURATION, 60, ours=True)),  # our account's policies
    "30": (True, _CodeRule(_C.BAD_MAILBOX, 60)),
    "40": (False, None),
    "50": (False, _CodeRule(_C.POLICY_RELATED, 60)),
    "51": (False, _CodeRule(_C.SPAM_RELATED, 80)),
    "52": (False, _CodeRule(_C.SPAM_RELATED, 70)),
    "53": (False, _CodeRule(_C.CONTENT_RELATED, 80)),
    "54": (False, _CodeRule(_C.RELAYING_ISSUES, 80)),
    "70": (False, None),
    "90": (True, _SUPPRESS),
}
_SPARKPOST_TYPES: dict[str, _CodeRule] = {
    "generation_failure": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "generation_rejection": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
}


def _momentum(facts: EspFacts, bounce_class: Any, text: str) -> None:
    code = _text(bounce_class).strip()
    if not code:
        return
    hard, rule = _MOMENTUM_CLASSES.get(code, (None, None))
    if code == "25" and "suppress" in text.lower():
        rule = _SUPPRESS  # SparkPost's own suppression list
    facts.hard = hard if facts.hard is None else facts.hard
    _apply(facts, rule, f"{facts.esp} bounce class {code}")


def _is_sparkpost(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("msys"), Mapping)


def _sparkpost(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    msys = raw.get("msys")
    events = msys.values() if isinstance(msys, Mapping) else [raw]  # also accept the bare event
    event = next((v for v in events if isinstance(v, Mapping)), {})
    facts = EspFacts(esp="SparkPost")
    reason = _text(event.get("raw_reason") or event.get("reason"))
    facts.texts.append(reason)
    _apply(facts, _SPARKPOST_TYPES.get(_lower(event.get("type"))), "SparkPost generation")
    _momentum(facts, event.get("bounce_class"), reason)
    return facts


# --- Mandrill ---

_MANDRILL_EVENTS: dict[str, bool] = {"hard_bounce": True, "soft_bounce": False, "deferral": False}
_MANDRILL_DESCRIPTIONS: dict[str, _CodeRule] = {
    "bad_mailbox": _CodeRule(_C.BAD_MAILBOX, 80),
    "invalid_mailbox": _CodeRule(_C.BAD_MAILBOX, 80),
    "invalid_address": _CodeRule(_C.BAD_MAILBOX, 80),
    "invalid_domain": _CodeRule(_C.BAD_DOMAIN, 80),
    "bad_domain": _CodeRule(_C.BAD_DOMAIN, 80),
    "no_mx": _CodeRule(_C.BAD_DOMAIN, 80),
    "mailbox_full": _CodeRule(_C.QUOTA_ISSUES, 90),
    "inactive_mailbox": _CodeRule(_C.INACTIVE_MAILBOX, 80),
    "spam_related": _CodeRule(_C.SPAM_RELATED, 80),
    "content_related": _CodeRule(_C.CONTENT_RELATED, 80),
    "policy_related": _CodeRule(_C.POLICY_RELATED, 80),
}
_MANDRILL_REJECTS: dict[str, _CodeRule] = {
    "hard-bounce": _SUPPRESS,
    "soft-bounce": _SUPPRESS,
    "spam": _SUPPRESS,
    "unsub": _SUPPRESS,
    "custom": _SUPPRESS,
    "invalid": _CodeRule(_C.BAD_MAILBOX, 90),
    "invalid-sender": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "unsigned": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "test-mode-limit": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "rule": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
}


def _is_mandrill(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("msg"), Mapping) and "event" in raw


def _mandrill(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    msg = raw.get("msg") if isinstance(raw.get("msg"), Mapping) else {}
    facts = EspFacts(esp="Mandrill", hard=_MANDRILL_EVENTS.get(_lower(raw.get("event"))))
    description = _lower(msg.get("bounce_description"))
    facts.add(_MANDRILL_DESCRIPTIONS.get(description), f"Mandrill {description}")
    reject = _lower(_dig(raw, "reject", "reason") or _dig(msg, "reject", "reason"))
    _apply(facts, _MANDRILL_REJECTS.get(reject), f"Mandrill reject {reject}")
    facts.texts.append(_text(msg.get("diag")))
    facts.texts.append(_text(_dig(msg, "smtp_events", -1, "diag")))
    _momentum(facts, msg.get("bgtools_code"), "")
    return facts


# --- Resend (SES underneath) ---


def _is_resend(raw: Mapping[str, Any]) -> bool:
    return _lower(raw.get("type")).startswith("email.") and isinstance(raw.get("data"), Mapping)


def _resend(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    kind = _lower(raw.get("type"))
    facts = EspFacts(esp="Resend", hard=False if kind == "email.delivery_delayed" else None)
    bounce = _dig(raw, "data", "bounce")
    if isinstance(bounce, Mapping):
        message = _text(bounce.get("message"))
        facts.hard = _SES_BOUNCE_TYPES.get(_lower(bounce.get("type")))
        subtype = _lower(bounce.get("subType"))
        _apply(facts, _SES_SUBTYPES.get(subtype), f"Resend subType {subtype}")
        if "suppressed sending" in message.lower():
            facts.suppressed = "Resend suppressed sending"
        elif "hard bounce" in message.lower() and facts.hard is None:
            facts.hard = True
        facts.texts.append(message)
    return facts


# --- Postal ---

_POSTAL_STATUS: dict[str, bool] = {"hardfail": True, "softfail": False}


def _is_postal(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("payload"), Mapping)


def _postal(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    payload = raw.get("payload") if isinstance(raw.get("payload"), Mapping) else raw
    facts = EspFacts(esp="Postal", hard=_POSTAL_STATUS.get(_lower(payload.get("status"))))
    facts.texts.append(_text(payload.get("output")))
    facts.texts.append(_text(payload.get("details")))
    return facts


# --- MailerSend ---

_MAILERSEND_TYPES: dict[str, bool] = {"hard_bounced": True, "soft_bounced": False}


def _is_mailersend(raw: Mapping[str, Any]) -> bool:
    return isinstance(_dig(raw, "data", "email"), Mapping)


def _mailersend(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else {}
    facts = EspFacts(esp="MailerSend", hard=_MAILERSEND_TYPES.get(_lower(data.get("type"))))
    facts.texts.append(_text(_dig(data, "morph", "reason")))
    return facts


# --- Mailjet ---

_MAILJET_ERRORS: dict[str, _CodeRule] = {
    "user unknown": _CodeRule(_C.BAD_MAILBOX, 85),
    "mailbox inactive": _CodeRule(_C.INACTIVE_MAILBOX, 85),
    "quota exceeded": _CodeRule(_C.QUOTA_ISSUES, 90),
    "invalid domain": _CodeRule(_C.BAD_DOMAIN, 85),
    "no mail host": _CodeRule(_C.BAD_DOMAIN, 85),
    "relay/access denied": _CodeRule(_C.RELAYING_ISSUES, 80),
    "greylisted": _CodeRule(_C.POLICY_RELATED, 70),
    "sender blocked": _CodeRule(_C.SPAM_RELATED, 70),
    "content blocked": _CodeRule(_C.CONTENT_RELATED, 80),
    "policy issue": _CodeRule(_C.POLICY_RELATED, 80),
    "typofix": _CodeRule(_C.BAD_DOMAIN, 80),
    "duplicate in campaign": _CodeRule(_C.OTHER, 80),
    "bad or empty template": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "error in template language": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "spam reporter": _SUPPRESS,
    "blacklisted": _SUPPRESS,
    "preblocked": _SUPPRESS,
}


def _is_mailjet(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("hard_bounce", "error_related_to", "mj_message_id", "Message_GUID"))


def _mailjet(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    hard = _flag(raw.get("hard_bounce")) if "hard_bounce" in raw else None
    facts = EspFacts(esp="Mailjet", hard=hard)
    error = _lower(raw.get("error"))
    _apply(facts, _MAILJET_ERRORS.get(error), f"Mailjet error {error}")
    facts.texts.append(_text(raw.get("smtp_reply")))
    facts.texts.append(_text(raw.get("comment")))
    return facts


# --- SendGrid ---

_SENDGRID_BOUNCE_TYPES: dict[str, tuple[bool | None, _CodeRule | None]] = {
    "bounce": (True, None),
    "blocked": (False, None),
    "expired": (False, _CodeRule(_C.MESSAGE_EXPIRED, 80)),
}
_SENDGRID_DROPS: dict[str, _CodeRule] = {
    "bounced address": _SUPPRESS,
    "unsubscribed address": _SUPPRESS,
    "spam reporting address": _SUPPRESS,
    "unsubscribed group": _SUPPRESS,
    "invalid": _CodeRule(_C.BAD_MAILBOX, 90),
    "invalid smtpapi header": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "spam content": _CodeRule(_C.CONTENT_RELATED, 80),
}
_SENDGRID_CLASSIFICATIONS: dict[str, _CodeRule] = {
    "invalid address": _CodeRule(_C.BAD_MAILBOX, 70),
    "reputation": _CodeRule(_C.SPAM_RELATED, 70),
    "content": _CodeRule(_C.CONTENT_RELATED, 70),
    "frequency or volume too high": _CodeRule(_C.POLICY_RELATED, 60),
    "technical failure": _CodeRule(_C.BAD_CONFIGURATION, 30),
}


def _is_sendgrid(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("sg_event_id", "sg_message_id", "smtp-id"))


def _sendgrid(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    facts = EspFacts(esp="SendGrid", status=_text(raw.get("status")))
    event, kind = _lower(raw.get("event")), _lower(raw.get("type"))
    if event == "bounce":
        facts.hard, rule = _SENDGRID_BOUNCE_TYPES.get(kind, (None, None))
        facts.add(rule, f"SendGrid type {kind}")
    elif event == "dropped":
        reason = _lower(raw.get("reason")) or kind
        _apply(facts, _SENDGRID_DROPS.get(reason), f"SendGrid dropped: {reason}")
    elif event == "deferred":
        facts.hard = False
    classification = _lower(raw.get("bounce_classification"))
    facts.add(_SENDGRID_CLASSIFICATIONS.get(classification), f"SendGrid {classification}")
    facts.texts.append(_text(raw.get("reason") if event != "dropped" else ""))
    facts.texts.append(_text(raw.get("response")))
    return facts


# --- Mailtrap ---

_MAILTRAP_EVENTS: dict[str, tuple[bool | None, _CodeRule | None]] = {
    "bounce": (True, None),
    "soft bounce": (False, None),
    "reject": (True, _SUPPRESS),
    "suspension": (False, _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
}


def _is_mailtrap(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("sending_stream", "response_code", "bounce_category"))


def _mailtrap(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    event = _lower(raw.get("event"))
    facts = EspFacts(esp="Mailtrap")
    facts.hard, rule = _MAILTRAP_EVENTS.get(event, (None, None))
    _apply(facts, rule, f"Mailtrap {event}")
    mapped = MAPPED_NAMES.get(_normalise_name(raw.get("bounce_category")))
    if mapped is not None:
        facts.add(_CodeRule(mapped.category, 70, mapped.ours), "Mailtrap bounce_category")
    facts.texts.append(f"{_text(raw.get('response_code'))} {_text(raw.get('response'))}".strip())
    return facts


# --- Brevo (Sendinblue) ---

_BREVO_EVENTS: dict[str, tuple[bool | None, _CodeRule | None]] = {
    "hard_bounce": (True, None),
    "soft_bounce": (False, None),
    "deferred": (False, None),
    "blocked": (True, _SUPPRESS),
    "invalid_email": (True, _CodeRule(_C.BAD_MAILBOX, 90)),
    "error": (False, _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True)),
}


def _is_brevo(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in ("ts_epoch", "ts_event", "message-id", "X-Mailin-custom"))


def _brevo(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    event = _lower(raw.get("event"))
    facts = EspFacts(esp="Brevo")
    facts.hard, rule = _BREVO_EVENTS.get(event, (None, None))
    _apply(facts, rule, f"Brevo {event}")
    facts.texts.append(_text(raw.get("reason")))
    return facts


# --- Unisender Go ---

_UNISENDER_STATUSES: dict[str, bool] = {"hard_bounced": True, "soft_bounced": False}
_UNISENDER_ERRORS: dict[str, _CodeRule] = {
    "err_user_unknown": _CodeRule(_C.BAD_MAILBOX, 85),
    "err_dest_invalid": _CodeRule(_C.BAD_MAILBOX, 85),
    "err_user_inactive": _CodeRule(_C.INACTIVE_MAILBOX, 85),
    "err_mailbox_discarded": _CodeRule(_C.INACTIVE_MAILBOX, 70),
    "err_mailbox_full": _CodeRule(_C.QUOTA_ISSUES, 90),
    "err_spam_rejected": _CodeRule(_C.SPAM_RELATED, 85),
    "err_blacklisted": _CodeRule(_C.SPAM_RELATED, 60),
    "err_too_large": _CodeRule(_C.CONTENT_RELATED, 90),
    "err_unsubscribed": _SUPPRESS,
    "err_spam_skipped": _SUPPRESS,
    "err_unreachable": _CodeRule(_C.NO_ANSWER_FROM_HOST, 60),
    "err_domain_inactive": _CodeRule(_C.BAD_DOMAIN, 85),
    "err_destination_misconfigured": _CodeRule(_C.BAD_CONFIGURATION, 70),
    "err_src_invalid": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "err_not_allowed": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "err_over_quota": _CodeRule(_C.BAD_CONFIGURATION, 90, ours=True),
    "err_skip_letter": _CodeRule(_C.OTHER, 60),
    "err_lost": _CodeRule(_C.OTHER, 40),
}


def _is_unisender_go(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("delivery_info"), Mapping) or "job_id" in raw


def _unisender_go(raw: Mapping[str, Any], recipient: str) -> EspFacts:
    info = raw.get("delivery_info") if isinstance(raw.get("delivery_info"), Mapping) else {}
    facts = EspFacts(esp="Unisender Go", hard=_UNISENDER_STATUSES.get(_lower(raw.get("status"))))
    status = _lower(info.get("delivery_status"))
    _apply(facts, _UNISENDER_ERRORS.get(status), f"Unisender Go {status}")
    facts.texts.append(_text(info.get("destination_response")))
    return facts


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
    named = ESP_READERS.get(_normalise_name(esp_name))
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


#: anymail ``reject_reason`` as weak evidence (strength 10), by event kind.
_REJECT_REASONS: dict[str, _CodeRule] = {
    "invalid": _CodeRule(_C.BAD_MAILBOX, 10),
    "timed_out": _CodeRule(_C.MESSAGE_EXPIRED, 10),
    "blocked": _CodeRule(_C.POLICY_RELATED, 10),
    "spam": _CodeRule(_C.SPAM_RELATED, 10),
    "unsubscribed": _CodeRule(_C.DNS, 10),
}
#: For ``rejected`` events (the ESP refused to send) these reasons mean its own list.
_REJECTED_SUPPRESSIONS = frozenset({"bounced", "spam", "unsubscribed", "blocked", "timed_out"})


def _event_evidence(event: Any, facts: EspFacts) -> _Analysis:
    mta = _analyse_smtp(" ".join([_text(getattr(event, "mta_response", None)), *facts.texts]))
    if not mta.evidence and facts.status:
        mta = _analyse_smtp(facts.status)
    description = _analyse_smtp(getattr(event, "description", None), penalty=_DESCRIPTION_PENALTY)
    evidence = [*mta.evidence, *description.evidence, *facts.evidence]
    reject = _lower(getattr(event, "reject_reason", None))
    rule = _REJECT_REASONS.get(reject)
    if rule is not None:
        evidence.append(_Evidence(rule.category, rule.strength, f"reject_reason {reject}"))
    return _Analysis(evidence, mta.transient)


def _fallback(event_type: str, facts: EspFacts) -> _Evidence:
    if event_type == "failed" and facts.hard is None:
        return _Evidence(_C.BAD_CONFIGURATION, 0, "ESP could not send", ours=True)
    if facts.hard:
        return _Evidence(_C.BAD_MAILBOX, 0, f"{facts.esp or 'ESP'} permanent bounce")
    return _Evidence(_C.OTHER, 0, f"{facts.esp or 'ESP'} {event_type}")


def _classify_event(event: Any, esp_name: str | None) -> Classification | None:
    event_type = _lower(getattr(event, "event_type", None))
    if event_type not in _FAILURE_EVENTS | _OPT_OUT_EVENTS:
        return None
    raw = _as_mapping(getattr(event, "esp_event", None))
    facts = esp_facts(raw, _text(getattr(event, "recipient", None)), esp_name)
    if event_type in _OPT_OUT_EVENTS and not facts.is_bounce:
        return _make(_C.DNS, f"recipient {event_type}: do-not-send")
    if facts.suppressed:
        return _make(_C.DNS, f"provider suppression: {facts.suppressed}")
    reject = _lower(getattr(event, "reject_reason", None))
    if event_type == "rejected" and reject in _REJECTED_SUPPRESSIONS and not facts.evidence:
        return _make(_C.DNS, f"provider suppression: reject_reason {reject}")
    analysis = _event_evidence(event, facts)
    best = _strongest(analysis.evidence) or _fallback(event_type, facts)
    if event_type == "deferred":
        transient = True
    elif facts.hard is not None:
        transient = not facts.hard
    else:
        transient = bool(analysis.transient)
    return _finish(best, transient)


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
        event_type = _lower(getattr(event, "event_type", None))
        if event_type in _FAILURE_EVENTS:
            return _make(_C.OTHER, "unclassifiable event")
        return None


# ---------------------------------------------------------------------------------------------
# SMS (Twilio message error codes)
# ---------------------------------------------------------------------------------------------

#: Twilio error code → (category, ours, description).
SMS_ERROR_RULES: dict[int, tuple[Category, bool, str]] = {
    20429: (_C.OTHER, False, "too many requests (HTTP 429): retry with back-off"),
    21211: (_C.BAD_MAILBOX, False, "invalid 'To' number"),
    21212: (_C.BAD_CONFIGURATION, True, "invalid 'From' number"),
    21217: (_C.BAD_MAILBOX, False, "phone number does not appear to be valid"),
    21265: (_C.BAD_MAILBOX, False, "'To' number cannot be a short code"),
    21408: (_C.BAD_CONFIGURATION, True, "geo permission not enabled for the region"),
    21602: (_C.BAD_CONFIGURATION, True, "message body is required"),
    21606: (_C.BAD_CONFIGURATION, True, "'From' number is not SMS-capable"),
    21608: (_C.BAD_CONFIGURATION, True, "trial account: number not verified"),
    21610: (_C.DNS, False, "recipient replied STOP (unsubscribed)"),
    21612: (_C.BAD_MAILBOX, False, "'To' number is not reachable via SMS"),
    21614: (_C.BAD_MAILBOX, False, "'To' number is not a mobile number"),
    21617: (_C.BAD_CONFIGURATION, True, "message body exceeds 1600 characters"),
    21659: (_C.BAD_CONFIGURATION, True, "'From' is not a Twilio number"),
    21660: (_C.BAD_CONFIGURATION, True, "'From' number belongs to another account"),
    30001: (_C.OTHER, False, "queue overflow"),
    30002: (_C.BAD_CONFIGURATION, True, "account suspended"),
    30003: (_C.NO_ANSWER_FROM_HOST, False, "unreachable destination handset"),
    30004: (_C.POLICY_RELATED, False, "message blocked"),
    30005: (_C.BAD_MAILBOX, False, "unknown or inactive destination"),
    30006: (_C.BAD_MAILBOX, False, "landline or unreachable carrier"),
    30007: (_C.CONTENT_RELATED, False, "carrier filtering (spam/content)"),
    30008: (_C.OTHER, False, "unknown error"),
    30009: (_C.BAD_CONNECTION, False, "missing inbound segment"),
    30010: (_C.BAD_CONFIGURATION, True, "message price exceeds max price"),
    30017: (_C.ROUTING_ERRORS, False, "carrier network congestion"),
    30018: (_C.BAD_CONFIGURATION, True, "carrier requires sender ID pre-registration"),
    30019: (_C.CONTENT_RELATED, False, "content size exceeds carrier limit"),
    30022: (_C.OTHER, False, "A2P 10DLC rate limit exceeded"),
    30023: (_C.OTHER, False, "A2P 10DLC daily cap reached"),
    30032: (_C.BAD_CONFIGURATION, True, "toll-free number not verified"),
    30034: (_C.BAD_CONFIGURATION, True, "unregistered A2P 10DLC sender"),
    30036: (_C.MESSAGE_EXPIRED, False, "validity period expired"),
}


def classify_sms_error(error_code: int | str) -> Classification:
    """Classify a Twilio message ``ErrorCode``; unknown codes are Other (soft)."""
    code = _int(error_code)
    if code is None or code not in SMS_ERROR_RULES:
        return _make(_C.OTHER, f"twilio {_text(error_code) or 'no'} error code (unknown)")
    category, ours, text = SMS_ERROR_RULES[code]
    return _make(category, f"twilio {code}: {text}", ours=ours)


# ---------------------------------------------------------------------------------------------
# Voice (Twilio call status + AnsweredBy)
# ---------------------------------------------------------------------------------------------

#: Final call statuses that are failures; anything else listed in _CALL_OK is not.
CALL_STATUS_RULES: dict[str, Category] = {
    "busy": _C.NO_ANSWER_FROM_HOST,
    "no-answer": _C.NO_ANSWER_FROM_HOST,
    "failed": _C.BAD_MAILBOX,
    "canceled": _C.OTHER,
}
_CALL_OK = frozenset({"completed", "queued", "initiated", "ringing", "in-progress", "answered"})


def classify_call(status: str, answered_by: str | None = None) -> Classification | None:
    """Classify a Twilio call outcome; None for success or a call still in progress."""
    state = _lower(status).replace("_", "-").replace("cancelled", "canceled")
    if _lower(answered_by) == "fax":
        return _make(_C.BAD_MAILBOX, "answered by a fax machine")
    if state in _CALL_OK:
        return None
    category = CALL_STATUS_RULES.get(state)
    if category is None:
        return _make(_C.OTHER, f"unknown call status {status!r}")
    return _make(category, f"call {state}")


# ---------------------------------------------------------------------------------------------
# Fax (Sinch errorType + Phaxio-style line codes)
# ---------------------------------------------------------------------------------------------

#: Line / call result codes (Phaxio numbering, used by Sinch too).
FAX_CODE_RULES: dict[int, tuple[Category, str]] = {
    11: (_C.BAD_CONNECTION, "call dropped"),
    15: (_C.ROUTING_ERRORS, "network congestion"),
    16: (_C.NO_ANSWER_FROM_HOST, "ring timeout"),
    17: (_C.NO_ANSWER_FROM_HOST, "busy"),
    30: (_C.NO_ANSWER_FROM_HOST, "no answer"),
    87: (_C.NO_ANSWER_FROM_HOST, "no answer"),
    112: (_C.NO_ANSWER_FROM_HOST, "no answer"),
    32: (_C.BAD_MAILBOX, "incompatible destination"),
    34: (_C.BAD_MAILBOX, "number not operational"),
    49: (_C.BAD_MAILBOX, "number not operational"),
    52: (_C.BAD_MAILBOX, "no route to destination"),
    132: (_C.BAD_MAILBOX, "no fax tone detected: not a fax machine"),
}
#: Sinch ``errorType`` values.
FAX_ERROR_TYPE_RULES: dict[str, tuple[Category, bool]] = {
    "DOCUMENT_CONVERSION_ERROR": (_C.BAD_CONFIGURATION, True),
    "CALL_ERROR": (_C.NO_ANSWER_FROM_HOST, False),
    "LINE_ERROR": (_C.BAD_CONNECTION, False),
    "FAX_ERROR": (_C.BAD_CONNECTION, False),
    "FATAL_ERROR": (_C.OTHER, False),
    "GENERAL_ERROR": (_C.OTHER, False),
}
#: Free-text fax results (some providers send words, not codes).
FAX_TEXT_RULES: tuple[tuple[re.Pattern[str], Category, bool], ...] = (
    (re.compile(r"conver(?:t|sion)|render|unsupported (?:file|document)", re.I), _C.BAD_CONFIGURATION, True),
    (re.compile(r"handshake|no fax tone|not a fax|voice answer|t\.30", re.I), _C.BAD_MAILBOX, False),
    (re.compile(r"not operational|disconnected|invalid number|no route", re.I), _C.BAD_MAILBOX, False),
    (re.compile(r"busy|no answer|ring timeout|not answered", re.I), _C.NO_ANSWER_FROM_HOST, False),
    (re.compile(r"congestion", re.I), _C.ROUTING_ERRORS, False),
    (re.compile(r"dropped|line error|noise", re.I), _C.BAD_CONNECTION, False),
)


def _fax_text(text: str) -> Classification | None:
    for pattern, category, ours in FAX_TEXT_RULES:
        if pattern.search(text):
            return _make(category, f"fax '{text[:40]}'", ours=ours)
    return None


def classify_fax(error_type: str, code: int | str | None = None) -> Classification:
    """Classify a failed fax from Sinch's ``errorType`` and an optional line code or text."""
    kind = _text(error_type).strip().upper().replace("-", "_").replace(" ", "_")
    if kind == "DOCUMENT_CONVERSION_ERROR":
        return _make(_C.BAD_CONFIGURATION, "fax document conversion error", ours=True)
    number = _int(code)
    if number in FAX_CODE_RULES:
        category, text = FAX_CODE_RULES[number]
        return _make(category, f"fax line code {number}: {text}")
    for text in (_text(code) if number is None else "", _text(error_type)):
        found = _fax_text(text) if text.strip() else None
        if found is not None:
            return found
    category, ours = FAX_ERROR_TYPE_RULES.get(kind, (_C.OTHER, False))
    return _make(category, f"fax {kind or 'unknown error'}", ours=ours)
