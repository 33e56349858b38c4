"""Failed faxes → :class:`~bounces.taxonomy.Classification`: Sinch's ``errorType`` plus a line code
(Phaxio numbering, used by Sinch too) or the provider's free-text result."""

from __future__ import annotations

import re

from bounces.taxonomy import Category, Classification, as_int, as_text, make_classification

_C = Category

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
            return make_classification(category, f"fax '{text[:40]}'", ours=ours)
    return None


def classify_fax(error_type: str, code: int | str | None = None) -> Classification:
    """Classify a failed fax from Sinch's ``errorType`` and an optional line code or text."""
    kind = as_text(error_type).strip().upper().replace("-", "_").replace(" ", "_")
    if kind == "DOCUMENT_CONVERSION_ERROR":
        return make_classification(_C.BAD_CONFIGURATION, "fax document conversion error", ours=True)
    number = as_int(code)
    if number in FAX_CODE_RULES:
        category, text = FAX_CODE_RULES[number]
        return make_classification(category, f"fax line code {number}: {text}")
    for text in (as_text(code) if number is None else "", as_text(error_type)):
        found = _fax_text(text) if text.strip() else None
        if found is not None:
            return found
    category, ours = FAX_ERROR_TYPE_RULES.get(kind, (_C.OTHER, False))
    return make_classification(category, f"fax {kind or 'unknown error'}", ours=ours)
