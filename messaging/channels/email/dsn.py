"""Bounce e-mails (RFC 3464 delivery status notifications and older free-text bounces).

``flufl.bounce`` finds the failed addresses (it knows Postfix, Exim, qmail, Exchange, Yahoo and
many other non-RFC formats) but not why they failed; the reason comes from the DSN's
``message/delivery-status`` part (``Status:`` and ``Diagnostic-Code:``), or, for free-text
bounces, from the paragraph that names the address. Both go through
:func:`bounces.smtp.classify_smtp`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.iterators import typed_subpart_iterator
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr

from flufl.bounce import all_failures

from bounces.smtp import classify_smtp, find_enhanced_code
from bounces.taxonomy import Classification

log = logging.getLogger(__name__)

__all__ = ["DsnFailure", "parse_dsn"]


@dataclass(frozen=True, slots=True)
class DsnFailure:
    """One failed (or delayed) recipient of a bounce message."""

    recipient: str
    category: str
    hard: bool
    status: str  # RFC 3463 code such as "5.1.1", or "" when the bounce gives none
    diagnostic: str
    action: str = "failed"  # "failed" or "delayed"
    reason: str = ""
    ours: bool = False


# ---------------------------------------------------------------------------------------------
# message/delivery-status blocks
# ---------------------------------------------------------------------------------------------

_BLANK_LINES_RE = re.compile(r"\r?\n[ \t]*\r?\n")
_SPACES_RE = re.compile(r"\s+")
_FAILED_ACTIONS = ("fail", "error")  # opensmtpd writes "Action: error"


@dataclass(frozen=True, slots=True)
class _StatusBlock:
    recipient: str
    action: str
    status: str
    diagnostic: str


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part, whether parsed or left as text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload or "")
    parser = HeaderParser()
    return [parser.parsestr(chunk.strip() + "\n") for chunk in _BLANK_LINES_RE.split(text)]


def _unfold(value: object) -> str:
    return _SPACES_RE.sub(" ", str(value or "")).strip()


def _address(value: str) -> str:
    """``rfc822; <a@b.org>`` → ``a@b.org``."""
    _type, _sep, rest = value.rpartition(";")
    return parseaddr(rest.strip())[1] or rest.strip().strip("<>")


def _status_blocks(msg: Message) -> Iterator[_StatusBlock]:
    for part in typed_subpart_iterator(msg, "message", "delivery-status"):
        for block in _field_blocks(part):
            recipient = _address(_unfold(block.get("Final-Recipient") or block.get("Original-Recipient")))
            action = _unfold(block.get("Action")).lower()
            if not recipient or not action.startswith(("delayed", *_FAILED_ACTIONS)):
                continue
            yield _StatusBlock(
                recipient=recipient,
                action="delayed" if action.startswith("delayed") else "failed",
                status=find_enhanced_code(_unfold(block.get("Status"))) or "",
                diagnostic=_unfold(block.get("Diagnostic-Code")),
            )


def _from_status_block(block: _StatusBlock) -> DsnFailure:
    diagnostic = _diagnostic_text(block.diagnostic)
    transient = True if block.action == "delayed" else None
    result = classify_smtp(diagnostic or block.status, status=block.status, transient=transient)
    return _failure(block.recipient, result, _best_status(block, diagnostic), diagnostic, block.action)


def _best_status(block: _StatusBlock, diagnostic: str) -> str:
    """The Status field, unless it is a generic X.0.0 and the diagnostic is more precise."""
    from_diagnostic = find_enhanced_code(diagnostic)
    if from_diagnostic and (not block.status or block.status.endswith(".0.0")):
        return from_diagnostic
    return block.status


def _diagnostic_text(diagnostic: str) -> str:
    """Drop the ``smtp;`` / ``X-Postfix;`` type prefix of a Diagnostic-Code."""
    kind, sep, rest = diagnostic.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else diagnostic


def _failure(recipient: str, result: Classification, status: str, diagnostic: str, action: str) -> DsnFailure:
    return DsnFailure(
        recipient=recipient,
        category=str(result.category),
        hard=result.hard,
        status=status,
        diagnostic=diagnostic,
        action=action,
        reason=result.reason,
        ours=result.ours,
    )


# ---------------------------------------------------------------------------------------------
# Free-text bounces (qmail, old Exim, Exchange NDR text, ...)
# ---------------------------------------------------------------------------------------------

#: Lines after which a bounce quotes the original message: nothing below is about the failure.
_ORIGINAL_MESSAGE_RE = re.compile(
    r"^\s*(?:-{2,}.*(?:below this line|original message|returned message|copy of the message|"
    r"message headers)|------ This is a copy|Original message follows|"
    r"The original message was received|Content-Type: message/rfc822)",
    re.IGNORECASE,
)
_MAX_PARAGRAPH_LINES = 8


def _report_lines(msg: Message) -> list[str]:
    """The human-readable report of a bounce, without the quoted original message."""
    lines: list[str] = []
    for part in typed_subpart_iterator(msg, "text"):
        if part.get_content_subtype() not in ("plain", "html"):
            continue
        raw = part.get_payload(decode=True)
        charset = part.get_content_charset() or "utf-8"
        text = raw.decode(charset, "replace") if isinstance(raw, bytes) else str(raw or "")
        for line in text.splitlines():
            if _ORIGINAL_MESSAGE_RE.match(line):
                return lines
            lines.append(line)
        if lines:
            return lines  # the first text part is the report
    return lines


def _paragraph_about(lines: list[str], address: str) -> str:
    """The line naming ``address`` and the lines after it, up to a blank line."""
    needle = address.lower()
    for index, line in enumerate(lines):
        if needle in line.lower():
            paragraph = [line]
            for following in lines[index + 1 : index + 1 + _MAX_PARAGRAPH_LINES]:
                if not following.strip():
                    break
                paragraph.append(following)
            return _unfold(" ".join(paragraph))
    return _unfold(" ".join(lines))


def _from_text(lines: list[str], address: str, permanent: bool) -> DsnFailure:
    text = _paragraph_about(lines, address)
    # the paragraph repeats the address; keep it out of the evidence (e.g. "dnsbl@...")
    evidence = re.sub(re.escape(address), " ", text, flags=re.IGNORECASE)
    result = classify_smtp(evidence, transient=None if permanent else True)
    status = find_enhanced_code(evidence) or ""
    return _failure(address, result, status, text, "failed" if permanent else "delayed")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _flufl_failures(msg: Message) -> tuple[list[str], list[str]]:
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # flufl's heuristics can trip over odd messages; the DSN part remains
        log.warning("flufl.bounce could not scan the message", exc_info=True)
        return [], []

    def decode(addresses: frozenset[bytes]) -> list[str]:
        return sorted(a.decode("ascii", "replace") for a in addresses)

    return decode(temporary), decode(permanent)


def parse_dsn(message: Message) -> list[DsnFailure]:
    """Failed recipients of a bounce message, each with category and hard/soft.

    Empty when ``message`` is not a bounce (or names no recipient).
    """
    failures: dict[str, DsnFailure] = {}
    for block in _status_blocks(message):
        failures.setdefault(block.recipient.lower(), _from_status_block(block))
    temporary, permanent = _flufl_failures(message)
    missing = [(a, True) for a in permanent] + [(a, False) for a in temporary]
    missing = [(a, p) for a, p in missing if a.lower() not in failures]
    if missing:
        lines = _report_lines(message)
        for address, is_permanent in missing:
            failures.setdefault(address.lower(), _from_text(lines, address, is_permanent))
    return list(failures.values())
