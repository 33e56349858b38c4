"""Twilio call outcomes (``CallStatus`` + ``AnsweredBy``) → :class:`~bounces.taxonomy.Classification`."""

from __future__ import annotations

from bounces.taxonomy import Category, Classification, as_lower, make_classification

_C = Category

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
    state = as_lower(status).replace("_", "-").replace("cancelled", "canceled")
    if as_lower(answered_by) == "fax":
        return make_classification(_C.BAD_MAILBOX, "answered by a fax machine")
    if state in _CALL_OK:
        return None
    category = CALL_STATUS_RULES.get(state)
    if category is None:
        return make_classification(_C.OTHER, f"unknown call status {status!r}")
    return make_classification(category, f"call {state}")
