"""The SMTP rule tables :mod:`bounces.smtp` classifies with: each gives a category and a strength.

* :data:`ENHANCED_STATUS_RULES`: RFC 3463 enhanced status codes (``5.1.1``)
* :data:`BASIC_CODE_RULES`: RFC 5321 basic reply codes (``550``), the weakest evidence
* :data:`TEXT_RULES`: regular expressions over the diagnostic text, usually the strongest: specific
  text ("mailbox full", "blocked using Spamhaus") beats a generic code (``5.1.1``, ``5.7.1``)

A code whose detail is 0 (``5.0.0``, ``5.5.0``: RFC 3463's "other or undefined … status") is
*generic*: it counts at most :data:`GENERIC_CODE_STRENGTH`, below every text rule, so specific text
always decides ("550 5.5.0 Requested action not taken: mailbox unavailable" is Bad-Mailbox, not
Bad-Configuration). Alone, or beside text no rule knows, it still gives its table's category.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bounces.taxonomy import Category, CodeRule

_C = Category

#: The most a generic enhanced code (detail 0, e.g. ``5.0.0``, ``5.5.0``) counts: less than any
#: text rule (the weakest is 18), more than any basic reply code (at most 10).
GENERIC_CODE_STRENGTH = 12

#: RFC 3463 enhanced status codes, class written as ``X``. ``"X.4"`` is the subject default,
#: ``"X.4.7"`` an exact code. Strengths: subject defaults 15-30, exact codes 40-75.
ENHANCED_STATUS_RULES: dict[str, CodeRule] = {
    "X.0.0": CodeRule(_C.OTHER, 5),
    # X.1 addressing
    "X.1": CodeRule(_C.BAD_MAILBOX, 20),
    "X.1.0": CodeRule(_C.BAD_MAILBOX, 25),
    "X.1.1": CodeRule(_C.BAD_MAILBOX, 50),
    "X.1.2": CodeRule(_C.BAD_DOMAIN, 50),
    "X.1.3": CodeRule(_C.BAD_MAILBOX, 50),
    "X.1.4": CodeRule(_C.BAD_MAILBOX, 40),
    "X.1.5": CodeRule(_C.OTHER, 10),
    "X.1.6": CodeRule(_C.BAD_MAILBOX, 50),
    "X.1.7": CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),
    "X.1.8": CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),
    # RFC 7505 null MX; Exchange also uses 5.1.10 for "recipient not found" (text decides)
    "X.1.10": CodeRule(_C.BAD_DOMAIN, 30),
    # X.2 mailbox
    "X.2": CodeRule(_C.BAD_MAILBOX, 20),
    "X.2.1": CodeRule(_C.INACTIVE_MAILBOX, 50),
    "X.2.2": CodeRule(_C.QUOTA_ISSUES, 60),
    "X.2.3": CodeRule(_C.CONTENT_RELATED, 40),
    "X.2.4": CodeRule(_C.BAD_CONFIGURATION, 30),
    # X.3 mail system
    "X.3": CodeRule(_C.BAD_CONFIGURATION, 20),
    "X.3.1": CodeRule(_C.QUOTA_ISSUES, 40),
    "X.3.4": CodeRule(_C.CONTENT_RELATED, 50),
    # X.4 network and routing
    "X.4": CodeRule(_C.ROUTING_ERRORS, 20),
    "X.4.1": CodeRule(_C.NO_ANSWER_FROM_HOST, 40),
    "X.4.2": CodeRule(_C.BAD_CONNECTION, 40),
    "X.4.3": CodeRule(_C.ROUTING_ERRORS, 40),
    "X.4.4": CodeRule(_C.ROUTING_ERRORS, 40),
    "X.4.6": CodeRule(_C.ROUTING_ERRORS, 40),
    "X.4.7": CodeRule(_C.MESSAGE_EXPIRED, 50),
    # X.5 protocol: our side
    "X.5": CodeRule(_C.BAD_CONFIGURATION, 30, ours=True),
    # X.6 content / media
    "X.6": CodeRule(_C.CONTENT_RELATED, 40),
    # X.7 security / policy
    "X.7": CodeRule(_C.POLICY_RELATED, 20),
    "X.7.0": CodeRule(_C.POLICY_RELATED, 15),
    "X.7.8": CodeRule(_C.BAD_CONFIGURATION, 40, ours=True),
    "X.7.23": CodeRule(_C.POLICY_RELATED, 50),  # SPF
    "X.7.25": CodeRule(_C.POLICY_RELATED, 50),  # reverse DNS
    "X.7.26": CodeRule(_C.POLICY_RELATED, 50),  # authentication / DMARC
    "X.7.27": CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),  # our sender has null MX
    "X.7.28": CodeRule(_C.SPAM_RELATED, 50),  # Gmail: unusual rate of unsolicited mail
    "X.7.57": CodeRule(_C.BAD_CONFIGURATION, 50, ours=True),  # O365: client not authenticated
    "X.7.64": CodeRule(_C.RELAYING_ISSUES, 50),  # O365: TenantAttribution relay denied
    "X.7.509": CodeRule(_C.POLICY_RELATED, 50),  # O365: DMARC reject
    "X.7.606": CodeRule(_C.SPAM_RELATED, 75),  # O365: banned sending IP
    "X.7.607": CodeRule(_C.SPAM_RELATED, 75),
    "X.7.608": CodeRule(_C.SPAM_RELATED, 75),
    "X.7.705": CodeRule(_C.SPAM_RELATED, 75),  # O365: tenant exceeded threshold
    "X.7.708": CodeRule(_C.SPAM_RELATED, 75),  # O365: traffic not accepted from this IP
    "X.7.750": CodeRule(_C.SPAM_RELATED, 75),
}

#: RFC 5321 basic reply codes: the weakest evidence, used when nothing else is known.
BASIC_CODE_RULES: dict[int, CodeRule] = {
    421: CodeRule(_C.BAD_CONNECTION, 8),
    450: CodeRule(_C.OTHER, 5),
    451: CodeRule(_C.OTHER, 5),
    452: CodeRule(_C.QUOTA_ISSUES, 8),
    500: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    501: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    502: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    503: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    504: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    521: CodeRule(_C.BAD_DOMAIN, 8),  # RFC 7504: host does not accept mail
    530: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    550: CodeRule(_C.OTHER, 5),
    551: CodeRule(_C.BAD_MAILBOX, 10),
    552: CodeRule(_C.QUOTA_ISSUES, 8),
    553: CodeRule(_C.BAD_MAILBOX, 8),
    554: CodeRule(_C.OTHER, 5),
    555: CodeRule(_C.BAD_CONFIGURATION, 8, ours=True),
    556: CodeRule(_C.BAD_DOMAIN, 8),  # RFC 7504: domain does not accept mail
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
