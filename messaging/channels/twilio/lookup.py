"""Asking Twilio about a message or call: whether it already has one whose create never got its
answer, and (:func:`twilio_fetch`) one's current state when its status callback is overdue.

A create that timed out may have been accepted. Before such a delivery is sent again
(``messaging.dispatch.ambiguous``) Twilio's list API is asked for the newest resources to the same
number (``To``, newest first): one created since the attempt started (less a minute of clock skew),
not yet known to us, and — for a text — with the same body, is the message; its SID is adopted and
nothing is sent again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from messaging.channels.base import NotKnown

SKEW = dt.timedelta(seconds=60)
NEWEST = 20


def first_match(
    resources: Iterable[Any], *, since: dt.datetime, known: Callable[[list[str]], set[str]], same: Callable[[Any], bool]
) -> str:
    """The SID of the oldest resource created since ``since`` that ``same`` accepts and we do not know."""
    fresh = [r for r in resources if r.date_created is not None and r.date_created >= since - SKEW and same(r)]
    taken = known([r.sid for r in fresh])
    for resource in sorted(fresh, key=lambda r: r.date_created):
        if resource.sid not in taken:
            return str(resource.sid)
    return ""


def known_sids(sids: list[str]) -> set[str]:
    """The SIDs already recorded on a delivery or an attempt."""
    from messaging.models import Attempt, Delivery

    if not sids:
        return set()
    on_rows = Delivery.objects.filter(provider_message_id__in=sids).values_list("provider_message_id", flat=True)
    on_attempts = Attempt.objects.filter(provider_message_id__in=sids).values_list("provider_message_id", flat=True)
    return set(on_rows) | set(on_attempts)


def twilio_fetch(fetch: Callable[[], Any]) -> Any:
    """``fetch()`` (one Messages or Calls fetch); Twilio's 404 becomes :class:`NotKnown`."""
    from twilio.base.exceptions import TwilioRestException

    try:
        return fetch()
    except TwilioRestException as exc:
        if exc.status == 404:
            raise NotKnown(str(exc)) from exc
        raise
