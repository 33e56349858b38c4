"""The chart's Messages tab (issue 14 §3): one client's messaging story, newest first.

Five sources, each read with one indexed query per page and merged in time order:

* **messages** — every delivery to the client (``Delivery.client``) with the content stored when it
  went out (``Delivery.content``, see ``messaging.content``), never today's template;
* **text replies** — ``InboundMessage`` (confirm, cancel, STOP / START / HELP);
* **keypad and staff answers** — ``AppointmentReply`` without a text behind it;
* **consent, preference and contact changes** — the chart's audit (``clients.models.ProfileChange``);
* **Do-Not-Send entries** for the client's addresses (``bounces.selectors.dns_entries_for_client``).

Pages are keyset pages on (time, source, id): a page costs the same few queries however many messages
the client has, and "Older" never repeats or skips an item.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from bounces.models import DoNotSendEntry
from bounces.selectors import dns_entries_for_client
from clients.models import Client, ProfileChange
from clients.selectors import audit_field_label
from messaging.explanations import NONE, Explanation, explain
from messaging.models import AppointmentReply, Delivery, InboundMessage, Status
from messaging.status_words import StatusWords, status_words, when

PAGE_SIZE = 50
# At most this many Do-Not-Send entries are read for one client (there is one per address at most).
DNS_LIMIT = 100

# The order of sources at one instant (higher first); also the cursor's tie-breaker between tables.
MESSAGE, REPLY, ANSWER, CHANGE, DNS = 5, 4, 3, 2, 1
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
KINDS = {MESSAGE: "message", REPLY: "reply", ANSWER: "answer", CHANGE: "change", DNS: "dns"}

# What a reply's keyword (``messaging.channels.sms.keywords.Intent.keyword``) means, in plain words.
KEYWORD_MEANINGS = {
    "STOP": "Stopped texts (STOP): no more texts until the client replies START",
    "START": "Texts back on (START)",
    "HELP": "Asked for help (HELP): the clinic's help text was sent",
    "CONFIRM": "Confirmed the appointment",
    "DECLINE": "Asked to cancel the appointment",
}
# What a status means where its label alone does not say it (Delivered and Failed do; a failure's "Why"
# line follows).
STATUS_MEANINGS = {
    Status.SCHEDULED: "Waiting for its send time",
    Status.QUEUED: "Waiting to go out",
    Status.SENDING: "Being sent now",
    Status.SENT: "Sent; the provider has not yet confirmed delivery",
    Status.SUPPRESSED: "Not sent: the address is on the Do-Not-Send list or was excluded",
    Status.CANCELLED: "Cancelled before it went out",
}
SOURCE_LABELS = {
    "staff": "staff",
    "sms-keyword": "the client's text reply",
    "unsubscribe": "the client's unsubscribe link",
    "import": "an import",
}


@dataclasses.dataclass(frozen=True, order=True)
class Cursor:
    """Where a page ends: the last item's time, source rank and id (items are ordered by all three)."""

    at: dt.datetime
    rank: int
    id: int

    def encode(self) -> str:
        micros = (self.at - EPOCH) // dt.timedelta(microseconds=1)
        return f"{micros}.{self.rank}.{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """A cursor from its text; None for a missing or malformed one (the first page)."""
        parts = (text or "").split(".")
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
            return None
        micros, rank, ident = (int(p) for p in parts)
        if rank not in KINDS:
            return None
        try:
            at = EPOCH + dt.timedelta(microseconds=micros)
        except OverflowError:
            return None
        return cls(at=at, rank=rank, id=ident)


@dataclasses.dataclass(frozen=True)
class Item:
    """One line of the tab: ``kind`` names the template block, ``obj`` is the row, the rest is words."""

    kind: str
    at: dt.datetime
    rank: int
    id: int
    obj: Any
    title: str = ""
    detail: str = ""
    status: StatusWords | None = None  # a message's state in History's words (messaging.status_words)
    explanation: Explanation = NONE  # a failed message's category on its channel (messaging.explanations)

    @property
    def key(self) -> Cursor:
        return Cursor(self.at, self.rank, self.id)

    @property
    def iso(self) -> str:
        return self.at.isoformat()

    @property
    def when(self) -> str:
        """ "Mon Dec 7, 9:42 AM" in the clinic's zone, as History and the Scheduled view write it."""
        return when(self.at)


@dataclasses.dataclass
class ChartMessages:
    client: Client
    items: list[Item]
    dns_entries: list[DoNotSendEntry]
    next_cursor: str = ""


def _older_than(cursor: Cursor | None, rank: int, field: str) -> Q:
    """Rows of the source ``rank`` after ``cursor`` in the order (time desc, rank desc, id desc)."""
    if cursor is None:
        return Q()
    if rank < cursor.rank:
        return Q(**{f"{field}__lte": cursor.at})
    if rank > cursor.rank:
        return Q(**{f"{field}__lt": cursor.at})
    # "<=" bounds the index range; the OR then picks the rows strictly after the cursor (as History).
    after = Q(**{f"{field}__lt": cursor.at}) | Q(**{field: cursor.at, "id__lt": cursor.id})
    return Q(**{f"{field}__lte": cursor.at}) & after


def _page(qs: QuerySet[Any], field: str, rank: int, cursor: Cursor | None, size: int) -> list[Any]:
    return list(qs.filter(_older_than(cursor, rank, field)).order_by(f"-{field}", "-id")[: size + 1])


# What the tab reads of a delivery and the rows joined to it: not the stored content's ``parts`` (every
# rendered part, an e-mail's HTML among them), the template version's texts or the broadcast's lists.
MESSAGE_FIELDS = (
    "client_id",
    "message_type_id",
    "broadcast_id",
    "content_id",
    "template_version_id",
    "created_at",
    "channel",
    "address",
    "status",
    "status_reason",
    "next_attempt_at",
    "attempt_count",
    "redial_count",
    "resend_count",
    "bounce_category",
    "hard_bounce",
    "error_code",
    "message_type__name",
    "broadcast__description",
    "broadcast__automated",
    "broadcast__created_by__username",
    "content__subject",
    "content__text",
    "content__encoding",
    "content__segments",
    "content__audio",
    "template_version__number",
)


def messages_of(client_id: int) -> QuerySet[Delivery]:
    """The client's deliveries with what the page shows, in one query (see ``MESSAGE_FIELDS``)."""
    return (
        Delivery.objects.filter(client_id=client_id)
        .select_related("message_type", "content", "broadcast__created_by", "template_version")
        .only(*MESSAGE_FIELDS)
    )


def chart_messages(client: Client, *, after: Cursor | None = None, size: int = PAGE_SIZE) -> ChartMessages:
    """One page of ``client``'s messages, replies, changes and Do-Not-Send entries, newest first."""
    deliveries = _page(messages_of(client.pk), "created_at", MESSAGE, after, size)
    replies = _page(InboundMessage.objects.filter(client_id=client.pk), "received_at", REPLY, after, size)
    answers = _page(
        AppointmentReply.objects.filter(appointment__client_id=client.pk, inbound__isnull=True).select_related(
            "appointment"
        ),
        "received_at",
        ANSWER,
        after,
        size,
    )
    changes = _page(
        ProfileChange.objects.filter(client_id=client.pk).select_related("changed_by"),
        "changed_at",
        CHANGE,
        after,
        size,
    )
    dns_entries = list(dns_entries_for_client(client).order_by("-created_at", "-id")[:DNS_LIMIT])
    items = [
        *(_message_item(d) for d in deliveries),
        *(_reply_item(r) for r in replies),
        *(_answer_item(a) for a in answers),
        *(_change_item(c) for c in changes),
        *(item for item in map(_dns_item, dns_entries) if after is None or item.key < after),
    ]
    items.sort(key=lambda item: item.key, reverse=True)
    more = len(items) > size
    items = items[:size]
    return ChartMessages(
        client=client,
        items=items,
        dns_entries=dns_entries,
        next_cursor=items[-1].key.encode() if more and items else "",
    )


def _message_item(d: Delivery) -> Item:
    words = status_words(
        status=d.status, reason=d.status_reason, next_attempt_at=d.next_attempt_at, attempt_count=d.attempt_count
    )
    return Item(
        "message",
        d.created_at,
        MESSAGE,
        d.pk,
        d,
        title=STATUS_MEANINGS.get(d.status, ""),
        status=words,
        explanation=explain(d.bounce_category, d.channel, d.error_code),
    )


def _reply_item(r: InboundMessage) -> Item:
    meaning = KEYWORD_MEANINGS.get(r.keyword, "Text from the client")
    return Item("reply", r.received_at, REPLY, r.pk, r, title=meaning)


def _answer_item(a: AppointmentReply) -> Item:
    return Item("answer", a.received_at, ANSWER, a.pk, a, title=f"{a.get_answer_display()} ({a.get_source_display()})")


def _change_item(c: ProfileChange) -> Item:
    by = c.changed_by.get_username() if c.changed_by is not None else SOURCE_LABELS.get(c.source, c.source)
    return Item("change", c.changed_at, CHANGE, c.pk, c, title=audit_field_label(c.field), detail=f"by {by}")


def _dns_item(e: DoNotSendEntry) -> Item:
    return Item("dns", e.created_at, DNS, e.pk, e, title=f"Added to the Do-Not-Send list: {e.get_reason_display()}")
