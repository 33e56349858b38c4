"""Attempts whose answer never came: ask the provider before sending again (issue 17, scenario 3).

A create that timed out, or a worker that died mid-send, leaves an attempt whose outcome nobody
knows: the provider may have the message. After the restart grace period the restart rules
(:mod:`messaging.dispatch.claim`) would send it again; on a channel whose provider can be asked
(``ChannelSpec.find_accepted``: Twilio's Messages and Calls list) :class:`Asker` asks first:

* the provider has it → its id is adopted, the delivery is "sent" and nothing goes out again (the
  status callback or reconciliation finishes it);
* the provider has none → restarted as before;
* the provider cannot tell (down, timing out, paused by an outage) → nothing changes; the next
  sweep asks again. A channel that failed once is not asked again in the same sweep.

Channels without a lookup (e-mail over SMTP, fax) keep the plain rules: restart after the grace
period (fax only when its "Restart unfinished Job" setting is on).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from importlib import import_module
from typing import Any

from messaging.channels.registry import spec_for
from messaging.models import Attempt, Delivery

logger = logging.getLogger("messaging.dispatch")


def _finder(channel: str) -> Callable[[Delivery, dt.datetime], str] | None:
    path = spec_for(channel).find_accepted
    if not path:
        return None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


class Asker:
    """Asks providers during one sweep; remembers the channels that could not answer."""

    def __init__(self, paused: Callable[[str], bool]) -> None:
        self._paused = paused
        self._down: set[str] = set()

    def can_ask(self, channel: str) -> bool:
        return _finder(channel) is not None

    def __call__(self, pk: int, channel: str, attempt: Attempt) -> str | None:
        """The provider id of the message the provider has for delivery ``pk`` ("" if none), or None
        when it cannot tell now. No transaction may be open: this is a network call."""
        finder = _finder(channel)
        if finder is None:
            return ""
        if channel in self._down or self._paused(channel):
            return None
        delivery = Delivery.objects.select_related("content").filter(pk=pk).first()
        if delivery is None:
            return None
        try:
            return finder(delivery, attempt.started_at)
        except Exception as exc:  # the provider is down or refuses: ask in a later sweep
            self._down.add(channel)
            logger.warning("delivery %s: could not ask the provider about an unanswered attempt: %s", pk, _name(exc))
            return None


def _name(exc: Exception) -> str:
    return type(exc).__name__


ADOPTED = "The provider had accepted it although its answer never came; not sent again"


def adopted_fields(provider_id: str, now: dt.datetime) -> dict[str, Any]:
    return {"status": "sent", "provider_message_id": provider_id[:128], "sent_at": now, "status_reason": ADOPTED}
