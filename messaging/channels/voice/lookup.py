"""Whether Twilio already has a call whose create timed out (``ChannelSpec.find_accepted``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from messaging.channels.sms.transport import twilio_client
from messaging.channels.twilio.lookup import NEWEST, first_match, known_sids

if TYPE_CHECKING:
    from messaging.models import Delivery


def find_accepted(delivery: Delivery, since: dt.datetime) -> str:
    """The SID of a call Twilio has to ``delivery``'s number, created since and not ours yet, or ""."""
    calls = twilio_client().calls.list(to=delivery.address, limit=NEWEST)
    return first_match(calls, since=since, known=known_sids, same=lambda call: True)
