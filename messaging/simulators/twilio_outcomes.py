"""What happens to a simulated SMS or call, chosen by the destination number.

Real Twilio decides a message's fate at the carrier and a call's at the callee; the simulator
decides by the last digits of ``To`` so that demos and tests are deterministic. The longest
matching suffix wins, and runtime overrides (``POST /_sim/outcomes``) win over the defaults.

SMS (``status`` is the final status; ``rejected`` means refused at create with HTTP 400):

============  ===========  ==========  =====================================================
``To`` ends   status       ErrorCode   meaning (Twilio error dictionary)
============  ===========  ==========  =====================================================
0001          undelivered  30003       unreachable destination handset (soft)
0002          failed       30006       landline or unreachable carrier (hard)
0003          undelivered  30007       message filtered by the carrier (soft, content)
0004          rejected     21211       invalid 'To' phone number (HTTP 400 at create)
0005          rejected     21610       recipient unsubscribed (replied STOP; 400 at create)
(other)       delivered    –
============  ===========  ==========  =====================================================

Voice (``AnsweredBy`` is reported only when the request asked for ``MachineDetection``):

============  ===========  =============================================================
``To`` ends   CallStatus   detail
============  ===========  =============================================================
0011          busy         busy signal, never answered
0012          no-answer    rang until the timeout
0013          failed       the call could not be placed
0014          completed    answered by a machine: ``machine_end_beep`` with
                           ``DetectMessageEnd``, ``machine_start`` with ``Enable``
0015          completed    answered by a fax machine (``fax``)
0016          completed    human; presses "1" at a ``<Gather>``
0017          completed    human; presses "2" at a ``<Gather>``
(other)       completed    answered by a human, no key pressed
============  ===========  =============================================================

Override body for ``POST /_sim/outcomes`` (keys are number suffixes; a full number is a suffix)::

    {"sms":  {"+15551234567": {"status": "undelivered", "error_code": 30008}},
     "call": {"9999": {"status": "completed", "answered_by": "human", "digits": "1"}},
     "replace": false}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from messaging.simulators.base import suffix_match

SMS_STATUSES = {"delivered", "undelivered", "failed", "rejected"}
CALL_STATUSES = {"completed", "busy", "no-answer", "failed"}
ANSWERERS = {"human", "machine", "fax"}


@dataclass(frozen=True)
class SmsOutcome:
    status: str = "delivered"
    error_code: int | None = None

    def __post_init__(self) -> None:
        if self.status not in SMS_STATUSES:
            raise ValueError(f"sms status must be one of {sorted(SMS_STATUSES)}")
        if self.status != "delivered" and self.error_code is None:
            raise ValueError(f"sms status {self.status!r} needs an error_code")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CallOutcome:
    status: str = "completed"
    answered_by: str | None = "human"
    digits: str | None = None
    duration: int = 15

    def __post_init__(self) -> None:
        if self.status not in CALL_STATUSES:
            raise ValueError(f"call status must be one of {sorted(CALL_STATUSES)}")
        if self.status == "completed" and self.answered_by not in ANSWERERS:
            raise ValueError(f"answered_by must be one of {sorted(ANSWERERS)}")

    @property
    def answered(self) -> bool:
        return self.status == "completed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_SMS_OUTCOMES: dict[str, SmsOutcome] = {
    "0001": SmsOutcome("undelivered", 30003),
    "0002": SmsOutcome("failed", 30006),
    "0003": SmsOutcome("undelivered", 30007),
    "0004": SmsOutcome("rejected", 21211),
    "0005": SmsOutcome("rejected", 21610),
}

DEFAULT_CALL_OUTCOMES: dict[str, CallOutcome] = {
    "0011": CallOutcome("busy", None, duration=0),
    "0012": CallOutcome("no-answer", None, duration=0),
    "0013": CallOutcome("failed", None, duration=0),
    "0014": CallOutcome("completed", "machine", duration=25),
    "0015": CallOutcome("completed", "fax", duration=3),
    "0016": CallOutcome("completed", "human", digits="1", duration=12),
    "0017": CallOutcome("completed", "human", digits="2", duration=12),
}


class OutcomeTable:
    """Default outcomes plus runtime overrides, looked up by the destination's suffix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sms: dict[str, SmsOutcome] = {}
        self.call: dict[str, CallOutcome] = {}

    def sms_for(self, to: str) -> SmsOutcome:
        with self._lock:
            override = suffix_match(self.sms, to)
        return override or suffix_match(DEFAULT_SMS_OUTCOMES, to) or SmsOutcome()

    def call_for(self, to: str) -> CallOutcome:
        with self._lock:
            override = suffix_match(self.call, to)
        return override or suffix_match(DEFAULT_CALL_OUTCOMES, to) or CallOutcome()

    def clear(self) -> None:
        with self._lock:
            self.sms.clear()
            self.call.clear()

    def apply(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Merge (or with ``"replace": true`` replace) overrides; ValueError on a bad entry."""
        sms = {str(k): SmsOutcome(**_known(v, SmsOutcome)) for k, v in _section(overrides, "sms")}
        call = {str(k): CallOutcome(**_known(v, CallOutcome)) for k, v in _section(overrides, "call")}
        with self._lock:
            if overrides.get("replace"):
                self.sms.clear()
                self.call.clear()
            self.sms.update(sms)
            self.call.update(call)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            sms, call = {**DEFAULT_SMS_OUTCOMES, **self.sms}, {**DEFAULT_CALL_OUTCOMES, **self.call}
        return {
            "sms": {k: v.as_dict() for k, v in sms.items()},
            "call": {k: v.as_dict() for k, v in call.items()},
        }


def _section(overrides: Mapping[str, Any], name: str) -> list[tuple[str, Any]]:
    section = overrides.get(name) or {}
    if not isinstance(section, Mapping):
        raise ValueError(f"{name!r} must be an object of number suffix -> outcome")
    return list(section.items())


def _known(value: Any, cls: type) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"an outcome must be an object, got {value!r}")
    allowed = set(cls.__dataclass_fields__)
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"unknown outcome fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    return dict(value)
