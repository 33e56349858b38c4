"""SMTP replies and DSN diagnostics → :class:`~bounces.taxonomy.Classification`.

Data driven: the enhanced status code, the basic reply code and the diagnostic text each give a
category with a strength (:mod:`bounces.smtp_rules`); the strongest piece of evidence wins, and a
generic code (``5.0.0``, ``5.5.0``) is weaker than any specific text. A
4.x.x / 4xx reply is transient, and transient evidence never yields a hard category.

Public API: :func:`classify_smtp`, :func:`find_enhanced_code`, :func:`classify_mapping` (another
mail system's category names), and for other classifiers (ESP events carry MTA text)
:func:`analyse_smtp`, :func:`normalise_text`, :class:`SmtpAnalysis` and :data:`MAPPED_NAMES`.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from bounces.smtp_rules import BASIC_CODE_RULES, ENHANCED_STATUS_RULES, GENERIC_CODE_STRENGTH, TEXT_RULES
from bounces.taxonomy import (
    Category,
    Classification,
    CodeRule,
    Evidence,
    as_text,
    from_evidence,
    make_classification,
    normalise_name,
    strongest,
)

_C = Category

_ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_BASIC_RES = (
    re.compile(r"^\s*(?:[\w-]+;\s*)?([45]\d\d)(?=[\s-]|$)"),  # "550 ...", "smtp; 550-..."
    re.compile(r"said:\s*([45]\d\d)(?=[\s-]|$)"),  # Postfix "host x said: 550 ..."
    re.compile(r"(?:(?<=\s)|(?<=\())([45]\d\d)(?=[ -])"),  # anywhere else
)
_SPACES_RE = re.compile(r"\s+")
#: Without any code, these words mark a transient failure (Postfix "Host not found, try again").
_TRANSIENT_TEXT_RE = re.compile(r"try again|temporar(?:y|ily)|deferred", re.IGNORECASE)


class SmtpAnalysis(NamedTuple):
    """The evidence in a reply, and whether its class says transient (None: it does not say)."""

    evidence: list[Evidence]
    transient: bool | None


def normalise_text(text: Any) -> str:
    """``text`` on one line: runs of white space (folded multi-line replies) become one space."""
    return _SPACES_RE.sub(" ", as_text(text)).strip()


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


def _enhanced_evidence(code: str | None) -> Evidence | None:
    if not code or code[0] == "2":
        return None
    _cls, subject, detail = code.split(".")
    rule = ENHANCED_STATUS_RULES.get(f"X.{subject}.{detail}") or ENHANCED_STATUS_RULES.get(f"X.{subject}")
    if rule is None:
        return None
    strength = min(rule.strength, GENERIC_CODE_STRENGTH) if detail == "0" else rule.strength
    return Evidence(rule.category, strength, f"enhanced {code}", rule.ours)


def _basic_evidence(code: int | None) -> Evidence | None:
    rule = BASIC_CODE_RULES.get(code) if code else None
    if rule is None:
        return None
    return Evidence(rule.category, rule.strength, f"basic {code}", rule.ours)


_RULES_BY_PRIORITY = sorted(TEXT_RULES, key=lambda rule: -rule.priority)


def _text_evidence(text: str, penalty: int = 0) -> Evidence | None:
    for rule in _RULES_BY_PRIORITY:  # strongest first: the first match is the best evidence
        match = rule.pattern.search(text)
        if match:
            snippet = match.group(0)[:40]
            return Evidence(rule.category, rule.priority - penalty, f"text '{snippet}'", rule.ours)
    return None


def analyse_smtp(reply: Any, status: Any = None, penalty: int = 0) -> SmtpAnalysis:
    """The evidence in an SMTP reply (text rules weakened by ``penalty``), and its transient class."""
    text = normalise_text(reply)
    enhanced = find_enhanced_code(text) or find_enhanced_code(normalise_text(status))
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
    return SmtpAnalysis([e for e in evidence if e is not None], transient)


def classify_smtp(reply: str, *, status: str | None = None, transient: bool | None = None) -> Classification:
    """Classify an SMTP reply or DSN diagnostic line.

    ``status`` is a DSN ``Status:`` value used when the reply carries no enhanced code.
    ``transient`` forces (True) or forbids (False) the transient downgrade of hard categories;
    by default it follows the reply's class (4.x.x / 4xx is transient).
    """
    analysis = analyse_smtp(reply, status)
    best = strongest(analysis.evidence) or Evidence(_C.OTHER, 0, "unclassified")
    is_transient = analysis.transient if transient is None else transient
    return from_evidence(best, bool(is_transient))


# ---------------------------------------------------------------------------------------------
# Other bounce vocabularies (PowerMTA, KumoMTA / Momentum names)
# ---------------------------------------------------------------------------------------------

#: Category names used by other mail servers and ESPs, normalised to lower-case alphanumerics.
MAPPED_NAMES: dict[str, CodeRule] = {
    **{re.sub(r"[^a-z0-9]", "", c.value.lower()): CodeRule(c, 100) for c in Category},
    "donotsend": CodeRule(_C.DNS, 100),
    "routingissues": CodeRule(_C.ROUTING_ERRORS, 100),  # seed spelling
    "invalidsender": CodeRule(_C.BAD_CONFIGURATION, 100, ours=True),
    "protocolerrors": CodeRule(_C.BAD_CONFIGURATION, 100, ours=True),
    "virusrelated": CodeRule(_C.CONTENT_RELATED, 100),
    "invalidrecipient": CodeRule(_C.BAD_MAILBOX, 100),
    "dnsfailure": CodeRule(_C.ROUTING_ERRORS, 100),
    "spamblock": CodeRule(_C.SPAM_RELATED, 100),
    "spamcontent": CodeRule(_C.SPAM_RELATED, 100),
    "prohibitedattachment": CodeRule(_C.CONTENT_RELATED, 100),
    "relaydenied": CodeRule(_C.RELAYING_ISSUES, 100),
    "transientfailure": CodeRule(_C.OTHER, 100),
    "authenticationfailed": CodeRule(_C.POLICY_RELATED, 100),
    "toomanyrecipients": CodeRule(_C.BAD_CONFIGURATION, 100, ours=True),
    "uncategorized": CodeRule(_C.OTHER, 100),
    "undetermined": CodeRule(_C.OTHER, 100),
    "unknown": CodeRule(_C.OTHER, 100),
}


def classify_mapping(name: str) -> Classification:
    """Map another system's bounce-category name onto ours.

    Accepts our own names, the PowerMTA family (``bad-mailbox``, ``invalid-sender``,
    ``protocol-errors`` → Bad-Configuration (ours), ``virus-related`` → Content-Related) and
    KumoMTA/Momentum names (``InvalidRecipient``, ``SpamBlock``, ...). Unknown → Other.
    """
    key = normalise_name(name)
    rule = MAPPED_NAMES.get(key)
    if rule is None:
        return make_classification(_C.OTHER, f"unknown category name {name!r}")
    return make_classification(rule.category, f"mapped {name}", ours=rule.ours)
