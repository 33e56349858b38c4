"""A provider outage, played by a simulator (issue 17, scenario 3).

``Outage.start(fail_seconds, hang_seconds)``: for ``fail_seconds`` every create answers HTTP 503
(nothing is accepted); then for ``hang_seconds`` every create is *accepted* but its answer is held
back ``hang_for`` seconds, longer than the client waits — the dangerous case: the client sees a
read timeout while the provider has the message and delivers it, and its status callbacks are lost
in the outage too (only asking the provider tells it was accepted). After both the provider answers
normally again. Tests call it in process; ``/_sim/outcomes`` takes ``{"outage": {...}}`` too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Outage:
    fail_until: float = 0.0
    hang_until: float = 0.0
    hang_for: float = 0.0
    refused: int = 0  # creates answered 503
    hung: int = 0  # creates accepted with their answer held back
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, fail_seconds: float, hang_seconds: float = 0.0, *, hang_for: float = 20.0) -> None:
        now = time.monotonic()
        with self._lock:
            self.fail_until = now + fail_seconds
            self.hang_until = self.fail_until + hang_seconds
            self.hang_for = hang_for

    def stop(self) -> None:
        with self._lock:
            self.fail_until = self.hang_until = 0.0

    def state(self) -> str:
        """'failing', 'hanging' or '' (answering normally)."""
        now = time.monotonic()
        if now < self.fail_until:
            return "failing"
        if now < self.hang_until:
            return "hanging"
        return ""

    def refuse(self) -> bool:
        """True when this create must be answered with a 503 (and counts it)."""
        if self.state() != "failing":
            return False
        with self._lock:
            self.refused += 1
        return True

    def hold_answer(self) -> None:
        """Called after a create was accepted: while hanging, hold the answer back."""
        if self.state() != "hanging":
            return
        with self._lock:
            self.hung += 1
        time.sleep(self.hang_for)
