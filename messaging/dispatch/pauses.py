"""Addresses paused after repeated soft failures: a message to one waits until the pause ends.

Enough messages to one address that *ended* failed with a soft category (after all their redials
and resends) pause the address for a while (``bounces.conf``; the numbers are edited in the admin).
A pause is listed on the Do-Not-Send screen with its expiry but is not a block: a claimed delivery
to a paused address is not sent, it is queued again for the pause's end and shows
"Paused after repeated soft failures until 5 Dec 14:30" with the underlying soft category
(``bounce_category``, ``hard_bounce=False``) — never DNS, never Hard. When the pause ends the
usual checks run again (consent, the Do-Not-Send list, the stop times).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from bounces.selectors import normalise, paused_addresses
from messaging.dispatch.attempts import _mine
from messaging.dispatch.checks import Verdict
from messaging.models import Status

PAUSED = "Paused after repeated soft failures"
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def paused_for(channel: str, verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """The pauses of the addresses about to be sent to (one query)."""
    return paused_addresses(channel, [v.address for v in verdicts if v.action == "send"])


def pause_reason(until: dt.datetime, category: str) -> str:
    """'Paused after repeated soft failures until 5 Dec 14:30 (Quota-Issues)', in the clinic's zone."""
    local = timezone.localtime(until)
    text = f"{PAUSED} until {local.day} {_MONTHS[local.month]} {local:%H:%M}"
    return f"{text} ({category})" if category else text


def is_paused(status: str, reason: str) -> bool:
    """Whether a delivery (its status and reason) is waiting for its address's pause to end."""
    return status == Status.QUEUED and reason.startswith(PAUSED)


def hold_if_paused(delivery: Any, token: str, verdict: Verdict, paused: dict[str, Any], *, now: dt.datetime) -> bool:
    """Queue a claimed delivery whose address is paused again for the pause's end; True if held."""
    if verdict.action != "send":
        return False
    entry = paused.get(normalise(delivery.channel, verdict.address))
    if entry is None or entry.expires_at is None or entry.expires_at <= now:
        return False
    _mine(delivery, token).update(
        status=Status.QUEUED,
        next_attempt_at=entry.expires_at,
        claimed_by="",
        lease_expires_at=None,
        status_reason=pause_reason(entry.expires_at, entry.category)[:255],
        bounce_category=entry.category[:24],
        hard_bounce=False,
        updated_at=now,
    )
    return True
