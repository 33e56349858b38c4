"""History tab reads: columns, filters, keyset pages, CSV export and one delivery's detail.

Pages are keyset-paginated on ``(created_at, id)`` (newest first), so any page costs the same as
the first: the query starts at the cursor in the ``delivery_history_idx`` index instead of
counting and skipping rows. No total count is taken (``COUNT(*)`` over a million rows would cost
more than the page).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from bounces.taxonomy import Category
from core import clock
from core.phones import display_phone
from messaging.channels.registry import all_specs
from messaging.explanations import explain
from messaging.models import Channel, Delivery, HistoryLayout, RecipientType, Status
from messaging.status_words import status_words

PAGE_SIZE = 50
EXPORT_CHUNK = 2000


# --- Columns ----------------------------------------------------------------------------------------


class Cell(NamedTuple):
    """One table cell as shown: text, optional CSS class, tooltip and link (a tuple: 650 are made per page)."""

    text: str
    css: str = ""
    title: str = ""
    href: str = ""


Row = dict[str, Any]  # one delivery as read for History: ``values()`` of the shown columns' fields


@dataclass(frozen=True)
class Column:
    """A History column: the fields it reads (``values()`` paths) and how it shows them."""

    key: str
    label: str
    fields: tuple[str, ...]
    value: Callable[[Row], Cell]
    numeric: bool = False
    wrap: bool = False  # long text: one line cut with an ellipsis, the whole on hover and focus (history.js)
    export: Callable[[Row], str] | None = None  # CSV value when it differs from the screen text

    def csv_value(self, row: Row) -> str:
        return self.export(row) if self.export is not None else self.value(row).text


# Month abbreviations as strftime's %b writes them in the C locale (Python never changes LC_TIME).
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _minutes(local: dt.datetime) -> str:
    """``%Y-%m-%d %H:%M`` of a datetime (``isoformat``: a fraction of ``strftime``'s cost, 50 times a page)."""
    return local.isoformat(" ", "minutes")[:16]


def _when(value: dt.datetime | None) -> str:
    return _minutes(timezone.localtime(value)) if value else ""


def _short_when(local: dt.datetime, full: str) -> str:
    """Screen format of a local time (``full`` is its ``_minutes``): the year only when it is not this year."""
    if local.year == dt.datetime.now(local.tzinfo).year:
        return f"{_MONTHS[local.month]} {full[8:]}"  # %b %d %H:%M
    return full


@cache
def category_explanations() -> dict[str, str]:
    """Bounce category -> its channel-neutral words. With a delivery at hand use
    ``messaging.explanations.explain(category, channel, error_code)``: the channel's own words."""
    return {str(c): explain(str(c)).text for c in Category}


# Choice labels by value: plain dict look-ups, no model instances needed.
CHANNEL_LABELS = dict(Channel.choices)
PHONE_CHANNELS = frozenset(spec.kind for spec in all_specs() if spec.phone_address)
RECIPIENT_TYPE_LABELS = dict(RecipientType.choices)


def _sent_at(r: Row) -> Cell:
    if r["sent_at"]:
        local = timezone.localtime(r["sent_at"])
        full = _minutes(local)
        return Cell(_short_when(local, full), title=full)
    return Cell("—", css="muted", title="Not sent yet")


def _address(r: Row) -> Cell:
    """A phone number in the one display format of every screen (core.phones); e-mail as it is."""
    address = r["address"]
    return Cell(display_phone(address) if r["channel"] in PHONE_CHANNELS else address)


def _channel(r: Row) -> Cell:
    return Cell(CHANNEL_LABELS.get(r["channel"], r["channel"]), css=f"ch ch-{r['channel']}")


def _status_words(r: Row) -> Any:
    """One vocabulary on every screen (messaging.status_words): Scheduled, Waiting, Paused..."""
    return status_words(
        status=r["status"],
        reason=r["status_reason"],
        next_attempt_at=r["next_attempt_at"],
        attempt_count=r["attempt_count"],
    )


def _status(r: Row) -> Cell:
    words = _status_words(r)
    return Cell(words.label, css=f"badge {words.css}".strip(), title=words.reason)


def _category(r: Row) -> Cell:
    category = r["bounce_category"]
    if not category:
        return Cell("")
    return Cell(category, title=explain(category, r["channel"], r["error_code"]).text)


def _hard_soft(r: Row) -> Cell:
    if r["hard_bounce"] is None:
        return Cell("")
    return Cell("Hard", css="badge bad") if r["hard_bounce"] else Cell("Soft", css="badge warn")


@cache
def _history_url() -> str:
    return reverse("messaging:history")


def _broadcast(r: Row) -> Cell:
    return Cell(f"#{r['broadcast_id']}", href=f"{_history_url()}?broadcast={r['broadcast_id']}")


def _message_text(r: Row) -> str:
    subject, text = r["content__subject"] or "", r["content__text"] or ""
    return f"{subject}\n\n{text}" if subject else text


def _message(r: Row) -> Cell:
    full = _message_text(r)
    if not full:
        return Cell("—", css="muted", title="Stored when it goes out")
    one_line = " ".join(full.split())
    return Cell(one_line if len(one_line) <= 80 else one_line[:79] + "…", title=full[:1000])


def _sent_by(r: Row) -> Cell:
    username = r["broadcast__created_by__username"]
    if r["broadcast__automated"] or not username:
        return Cell("automated", css="muted")
    return Cell(username)


def _text(field: str) -> Callable[[Row], Cell]:
    return lambda r: Cell(r[field] or "")


def _number(field: str) -> Callable[[Row], Cell]:
    return lambda r: Cell(str(r[field]))


def _time(field: str) -> Callable[[Row], Cell]:
    return lambda r: Cell(_when(r[field]))


def _col(key: str, label: str, fields: tuple[str, ...] | str, value: Callable[[Row], Cell], **kw: Any) -> Column:
    return Column(key, label, (fields,) if isinstance(fields, str) else fields, value, **kw)


COLUMN_LIST: tuple[Column, ...] = (
    _col("sent_at", "Sent at", "sent_at", _sent_at, export=lambda r: _when(r["sent_at"])),
    _col("recipient", "Recipient", "recipient_name", _text("recipient_name"), wrap=True),
    _col(
        "recipient_type",
        "Recipient type",
        "recipient_type",
        lambda r: Cell(RECIPIENT_TYPE_LABELS.get(r["recipient_type"], "")),
    ),
    _col("message_type", "Message type", "message_type__name", _text("message_type__name"), wrap=True),
    _col("description", "Description", "broadcast__description", _text("broadcast__description"), wrap=True),
    _col("channel", "Channel", "channel", _channel),
    _col("address", "Address", ("address", "channel"), _address, wrap=True, export=lambda r: r["address"]),
    _col("status", "Status", ("status", "status_reason", "next_attempt_at", "attempt_count"), _status),
    _col("error_category", "Error category", ("bounce_category", "channel", "error_code"), _category),
    _col("hard_soft", "Hard/Soft", "hard_bounce", _hard_soft),
    _col("attempts", "Attempts", "attempt_count", _number("attempt_count"), numeric=True),
    _col("broadcast", "Broadcast", "broadcast_id", _broadcast),
    _col("sent_by", "Sent by", ("broadcast__automated", "broadcast__created_by__username"), _sent_by),
    # Available, not shown by default
    _col("created_at", "Created", "created_at", _time("created_at")),
    _col("broadcast_at", "Broadcast Date", "broadcast__broadcast_at", _time("broadcast__broadcast_at")),
    _col("delivered_at", "Delivered at", "delivered_at", _time("delivered_at")),
    _col("finished_at", "Finished at", "finished_at", _time("finished_at")),
    _col("address_source", "Address source", "address_source", _text("address_source")),
    _col("appointment", "Appointment", "appointment__start", _time("appointment__start")),
    _col(
        "status_reason",
        "Status reason",
        ("status", "status_reason", "next_attempt_at", "attempt_count"),
        lambda r: Cell(_status_words(r).reason),
        wrap=True,
    ),
    _col(
        "error_explanation",
        "What the error means",
        ("bounce_category", "channel", "error_code"),
        lambda r: Cell(explain(r["bounce_category"], r["channel"], r["error_code"]).text),
        wrap=True,
    ),
    _col("error_code", "Error code", "error_code", _text("error_code")),
    _col("error_detail", "Error detail", "error_detail", _text("error_detail"), wrap=True),
    _col("resends", "Resends", "resend_count", _number("resend_count"), numeric=True),
    _col("redials", "Redials", "redial_count", _number("redial_count"), numeric=True),
    _col("provider_message_id", "Provider message id", "provider_message_id", _text("provider_message_id")),
    # What was sent, as stored when it went out (messaging.content); empty before it goes out.
    _col("message", "Message", ("content__subject", "content__text"), _message, wrap=True, export=_message_text),
)
COLUMNS: dict[str, Column] = {c.key: c for c in COLUMN_LIST}
# The default layout fits a 1366 px laptop without sideways scrolling (issue 15): long text is cut to one
# line. Attempts and Broadcast are a click away (the delivery's detail, the Columns panel).
DEFAULT_COLUMNS: tuple[str, ...] = (
    "sent_at",
    "recipient",
    "recipient_type",
    "message_type",
    "description",
    "channel",
    "address",
    "status",
    "error_category",
    "hard_soft",
    "sent_by",
)


def clean_columns(keys: Sequence[str]) -> list[str]:
    """Known column keys, each once, in the given order (unknown keys dropped)."""
    return [k for k in dict.fromkeys(keys) if k in COLUMNS]


def layout_columns(user: Any) -> list[Column]:
    """The user's saved History columns (the default layout when never saved)."""
    saved = HistoryLayout.objects.filter(user_id=user.pk).values_list("columns", flat=True).first()
    keys = clean_columns(saved or []) or list(DEFAULT_COLUMNS)
    return [COLUMNS[k] for k in keys]


def layout_save(*, user: Any, columns: Sequence[str]) -> list[str]:
    """Save the user's column order (a write; kept here beside its reader). Returns what was saved."""
    keys = clean_columns(columns)
    if not keys:
        raise ValueError("Keep at least one column.")
    HistoryLayout.objects.update_or_create(user=user, defaults={"columns": keys})
    return keys


# --- Filters ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    message_type_id: int | None = None
    channel: str = ""
    status: str = ""
    bounce: str = ""  # "hard" / "soft"
    q: str = ""
    broadcast_id: int | None = None
    client_id: int | None = None  # one client's messages (the chart's Messages tab links here)

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in self.__dict__.values())


# A "From" before / a "To" after these bounds nothing: 0001-01-01 and 9999-12-31 themselves are valid
# dates whose midnight (or next midnight) cannot be stored in UTC (issue 13: ?date_to=9999-12-31 was a 500).
EARLIEST_BOUND = dt.date(1, 1, 3)
LATEST_BOUND = dt.date(9999, 12, 29)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def storable_id(value: int | None, field_name: str) -> bool:
    """Whether ``value`` fits the database column of ``Delivery.<field_name>`` (a 30-digit id fits none)."""
    if value is None:
        return False
    field = Delivery._meta.get_field(field_name)
    target = getattr(field, "target_field", field)
    low, high = connection.ops.integer_field_range(target.get_internal_type())
    return (low is None or value >= low) and (high is None or value <= high)


def filtered(filters: Filters) -> QuerySet[Delivery]:
    """Deliveries matching ``filters`` (no ordering, no joins)."""
    qs = Delivery.objects.all()
    if filters.date_from and filters.date_from > EARLIEST_BOUND:
        qs = qs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to and filters.date_to < LATEST_BOUND:
        qs = qs.filter(created_at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    for value, field_name in (
        (filters.message_type_id, "message_type"),
        (filters.broadcast_id, "broadcast"),
        (filters.client_id, "client"),
    ):
        if value and not storable_id(value, field_name):
            return qs.none()  # no such row can exist
    if filters.message_type_id:
        qs = qs.filter(message_type_id=filters.message_type_id)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.status:
        qs = qs.filter(_status_is(filters.status))
    if filters.bounce:
        qs = qs.filter(hard_bounce=filters.bounce == "hard")
    if filters.broadcast_id:
        qs = qs.filter(broadcast_id=filters.broadcast_id)
    if filters.client_id:
        qs = qs.filter(client_id=filters.client_id)
    if filters.q:
        qs = qs.filter(_search(filters.q))
    return qs


def _status_is(status: str) -> Q:
    """A status as History names it: a manual broadcast dated later is Scheduled, like an automated one
    (stored queued, not yet due, never tried, no reason: messaging.status_words)."""
    later = Q(status=Status.QUEUED, attempt_count=0, status_reason="", next_attempt_at__gt=clock.now())
    if status == Status.SCHEDULED:
        return Q(status=status) | later
    return Q(status=status) & ~later if status == Status.QUEUED else Q(status=status)


def _search(text: str) -> Q:
    """Recipient search: an e-mail address or phone number matches the address exactly (indexable);
    anything else matches every word in the recipient's name."""
    text = text.strip()
    if "@" in text:
        return Q(address__in={text, text.lower()})
    number = _as_phone_number(text)
    if number:
        return Q(address=number)
    if connection.vendor == "postgresql":
        return _name_words(text)
    query = Q()
    for word in re.findall(r"[^\W_]+", text):  # SQLite (the demo): every word somewhere in the name
        query &= Q(recipient_name__icontains=word)
    return query


def _name_words(text: str) -> Q:
    """PostgreSQL: every word typed is the start of a word of the name, in any order ("lop ana" finds
    "Lopez-Villanueva, Ana"), through the name's word index (migration 0011). Only letters and digits
    reach the query: nothing typed is read as tsquery syntax."""
    words = [word.lower() for word in re.findall(r"[^\W_]+", text)]
    if not words:
        return Q()
    query = " & ".join(f"{word}:*" for word in words)
    return Q(
        RawSQL(
            "to_tsvector('simple'::regconfig, recipient_name::text) @@ to_tsquery('simple'::regconfig, %s)",
            [query],
            output_field=BooleanField(),
        )
    )


def _as_phone_number(text: str) -> str:
    """``text`` as an E.164 number when it is one (digits, spaces, dashes, dots, brackets, a plus)."""
    import phonenumbers
    from django.conf import settings

    digits = sum(ch.isdigit() for ch in text)
    if digits < 7 or any(not (ch.isdigit() or ch in " -.()+") for ch in text):
        return ""
    try:
        parsed = phonenumbers.parse(text, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def row_fields(columns: Sequence[Column]) -> list[str]:
    """The ``values()`` paths a page reads: the cursor's (created_at, id) and the shown columns' fields."""
    # recipient_name: the detail link's label names the recipient even when the column is hidden.
    wanted = ["id", "created_at", "recipient_name"] + [f for c in columns for f in c.fields]
    return list(dict.fromkeys(wanted))


def as_rows(qs: QuerySet[Delivery], columns: Sequence[Column]) -> QuerySet[Delivery]:
    """Plain rows (dicts) of the shown columns' fields: joins only what they read, no model instances."""
    return qs.values(*row_fields(columns))


# --- Keyset pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    created_at: dt.datetime
    id: int

    def encode(self) -> str:
        micros = int(self.created_at.timestamp() * 1_000_000)
        return f"{micros}.{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """A cursor from its text, or None for a missing or malformed one (first page)."""
        if not text:
            return None
        micros, _, ident = text.partition(".")
        try:
            stamp = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC)
            cursor = cls(created_at=stamp, id=int(ident))
        except (ValueError, OverflowError, OSError):
            return None
        return cursor if storable_id(cursor.id, "id") else None

    @classmethod
    def of(cls, row: Row) -> Cursor:
        return cls(created_at=row["created_at"], id=row["id"])


def _older_than(c: Cursor) -> Q:
    # created_at <= c bounds the index range; the OR picks the rows strictly after the cursor.
    return Q(created_at__lte=c.created_at) & (Q(created_at__lt=c.created_at) | Q(id__lt=c.id))


def _newer_than(c: Cursor) -> Q:
    return Q(created_at__gte=c.created_at) & (Q(created_at__gt=c.created_at) | Q(id__gt=c.id))


@dataclass
class HistoryPage:
    rows: list[Row] = field(default_factory=list)
    next_cursor: str = ""  # older rows
    prev_cursor: str = ""  # newer rows


def page_queryset(
    filters: Filters,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
    columns: Sequence[Column] = (),
) -> QuerySet[Delivery]:
    """The one query a History page runs (exposed for the benchmark's bare-SQL comparison)."""
    qs = as_rows(filtered(filters), columns or [COLUMNS[k] for k in DEFAULT_COLUMNS])
    if before is not None:
        return qs.filter(_newer_than(before)).order_by("created_at", "id")[: size + 1]
    if after is not None:
        qs = qs.filter(_older_than(after))
    return qs.order_by("-created_at", "-id")[: size + 1]


def history_page(
    filters: Filters,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
    columns: Sequence[Column] = (),
) -> HistoryPage:
    """One page of History, newest first; ``after`` pages to older rows, ``before`` to newer."""
    rows = list(page_queryset(filters, after=after, before=before, size=size, columns=columns))
    more = len(rows) > size
    rows = rows[:size]
    page = HistoryPage()
    if before is not None:
        rows.reverse()
        page.rows = rows
        page.prev_cursor = Cursor.of(rows[0]).encode() if more and rows else ""
        page.next_cursor = Cursor.of(rows[-1]).encode() if rows else ""
        return page
    page.rows = rows
    page.next_cursor = Cursor.of(rows[-1]).encode() if more and rows else ""
    page.prev_cursor = Cursor.of(rows[0]).encode() if after is not None and rows else ""
    return page


def table_rows(rows: Sequence[Row], columns: Sequence[Column]) -> list[tuple[Row, list[Cell]]]:
    """Each row with its cells, in the order of ``columns``."""
    values = [c.value for c in columns]
    return [(r, [value(r) for value in values]) for r in rows]


# --- CSV export -------------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a leading = + - @ tab or CR gets a quote.

    A phone number in E.164 (``+`` and 7 to 15 ASCII digits, the first not 0) is left as it is: digits
    alone cannot make a formula, and a quote would corrupt every exported phone number.
    """
    if not text or text[0] not in "=+-@\t\r":
        return text
    digits = text[1:]
    if text[0] == "+" and 7 <= len(digits) <= 15 and digits.isascii() and digits.isdigit() and digits[0] != "0":
        return text
    return "'" + text


def export_rows(filters: Filters, columns: Sequence[Column]) -> Iterator[str]:
    """CSV lines (header first) of every filtered delivery, newest first, streamed in chunks."""
    writer = csv.writer(_Echo())
    yield writer.writerow([c.label for c in columns])
    qs = as_rows(filtered(filters), columns).order_by("-created_at", "-id")
    for row in qs.iterator(chunk_size=EXPORT_CHUNK):
        yield writer.writerow([_csv_safe(c.csv_value(row)) for c in columns])


# --- One delivery: messaging.delivery_reads (re-exported: views and tests read it from here) ---------------

from messaging.delivery_reads import DeliveryDetail, TimelineEntry, delivery_detail  # noqa: E402, F401
