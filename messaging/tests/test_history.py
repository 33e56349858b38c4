from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging import history as hist
from messaging.models import Attempt, Broadcast, Delivery, HistoryLayout, MessageType, ProviderEvent, Status


@pytest.fixture
def reminder(db):
    return MessageType.objects.get(code="client-upcoming-appointment")


def rows(message_type, n, *, same_time=False, user=None, **fields):
    broadcast = Broadcast.objects.create(message_type=message_type, broadcast_at=timezone.now(), created_by=user)
    base = timezone.now() - dt.timedelta(days=1)
    made = []
    for i in range(n):
        created = base if same_time else base + dt.timedelta(seconds=i)
        made.append(
            Delivery.objects.create(
                broadcast=broadcast,
                message_type=message_type,
                channel="sms",
                recipient_name=f"Person {i:03d}",
                address=f"+1617555{i:04d}",
                created_at=created,
                **fields,
            )
        )
    return made


def walk(filters, size):
    """Every row, page by page through the 'older' cursors."""
    seen, after = [], None
    while True:
        page = hist.history_page(filters, after=after, size=size)
        seen += [r["id"] for r in page.rows]
        if not page.next_cursor:
            return seen
        after = hist.Cursor.decode(page.next_cursor)


def test_pages_cover_every_row_once_newest_first(reminder):
    made = rows(reminder, 23)
    assert walk(hist.Filters(), size=5) == [d.pk for d in reversed(made)]


def test_rows_with_the_same_timestamp_are_paged_by_id(reminder):
    made = rows(reminder, 12, same_time=True)  # one broadcast: every delivery has the same created_at
    assert walk(hist.Filters(), size=5) == sorted((d.pk for d in made), reverse=True)


def test_newer_pages_go_back(reminder):
    rows(reminder, 12)
    first = hist.history_page(hist.Filters(), size=5)
    second = hist.history_page(hist.Filters(), after=hist.Cursor.decode(first.next_cursor), size=5)
    back = hist.history_page(hist.Filters(), before=hist.Cursor.decode(second.prev_cursor), size=5)
    assert [r["id"] for r in back.rows] == [r["id"] for r in first.rows]
    assert back.prev_cursor == ""  # the newest page has nothing newer


@pytest.mark.parametrize("text", ["", "garbage", "12.x", "99999999999999999999999.1"])
def test_malformed_cursor_means_first_page(text):
    assert hist.Cursor.decode(text) is None


def test_cursor_round_trip():
    cursor = hist.Cursor(created_at=dt.datetime(2030, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC), id=42)
    assert hist.Cursor.decode(cursor.encode()) == cursor


def test_one_query_per_page_whatever_the_columns(reminder, django_user_model):
    user = django_user_model.objects.create_user("sender")
    rows(reminder, 30, user=user)
    columns = list(hist.COLUMNS.values())  # every column, including the appointment
    with CaptureQueriesContext(connection) as ctx:
        page = hist.history_page(hist.Filters(), columns=columns)
        hist.table_rows(page.rows, columns)
    assert len(ctx.captured_queries) == 1


def test_filters(reminder):
    rows(reminder, 3)
    failed = rows(reminder, 2, status=Status.FAILED, hard_bounce=True, bounce_category="Bad-Mailbox")
    soft = rows(reminder, 1, status=Status.FAILED, hard_bounce=False, bounce_category="Quota-Issues")
    assert {d.pk for d in hist.filtered(hist.Filters(bounce="hard"))} == {d.pk for d in failed}
    assert {d.pk for d in hist.filtered(hist.Filters(bounce="soft"))} == {d.pk for d in soft}
    assert hist.filtered(hist.Filters(status="failed")).count() == 3
    assert hist.filtered(hist.Filters(broadcast_id=soft[0].broadcast_id)).count() == 1
    assert hist.filtered(hist.Filters(channel="email")).count() == 0
    today = timezone.localdate()
    assert hist.filtered(hist.Filters(date_from=today + dt.timedelta(days=1))).count() == 0
    assert hist.filtered(hist.Filters(date_to=today)).count() == 6


def test_recipient_search(reminder):
    made = rows(reminder, 3)
    Delivery.objects.filter(pk=made[0].pk).update(recipient_name="Alvarez, Maria", address="Maria@Example.org")
    assert [d.pk for d in hist.filtered(hist.Filters(q="maria alv"))] == [made[0].pk]
    assert [d.pk for d in hist.filtered(hist.Filters(q="Maria@Example.org"))] == [made[0].pk]
    assert [d.pk for d in hist.filtered(hist.Filters(q="617-555-0002"))] == [made[2].pk]
    assert [d.pk for d in hist.filtered(hist.Filters(q="+1 (617) 555-0001"))] == [made[1].pk]


def test_name_search_finds_the_starts_of_name_words_in_any_order_and_ignores_punctuation(reminder):
    made = rows(reminder, 3)
    Delivery.objects.filter(pk=made[0].pk).update(recipient_name="Lopez-Villanueva, Ana")
    Delivery.objects.filter(pk=made[1].pk).update(recipient_name="O'Brien, Ana María")
    for typed, found in [
        ("ana lop", [made[0].pk]),
        ("Villanueva", [made[0].pk]),
        ("o'brien", [made[1].pk]),
        ("maría", [made[1].pk]),
        ("ana", [made[1].pk, made[0].pk]),  # newest first
        ("ana & | ! :* (", [made[1].pk, made[0].pk]),  # tsquery syntax typed is not read as syntax
        ("zelda", []),
    ]:
        assert [d.pk for d in hist.filtered(hist.Filters(q=typed))] == found, typed


def test_layout_defaults_clean_and_save(django_user_model):
    user = django_user_model.objects.create_user("u1")
    assert [c.key for c in hist.layout_columns(user)] == list(hist.DEFAULT_COLUMNS)
    assert hist.layout_save(user=user, columns=["status", "nope", "status", "recipient"]) == ["status", "recipient"]
    assert HistoryLayout.objects.get(user=user).columns == ["status", "recipient"]
    assert [c.key for c in hist.layout_columns(user)] == ["status", "recipient"]
    with pytest.raises(ValueError):
        hist.layout_save(user=user, columns=["nope"])


def test_category_tooltip_and_hard_soft_cells(reminder):
    [d] = rows(reminder, 1, status=Status.FAILED, hard_bounce=True, bounce_category="Bad-Mailbox")
    d = hist.as_rows(Delivery.objects.filter(pk=d.pk), hist.COLUMN_LIST).get()
    category = hist.COLUMNS["error_category"].value(d)
    # The category's words on its channel (an SMS here), never the e-mail wording (issue 15 §2).
    assert category.text == "Bad-Mailbox" and "can't receive texts" in category.title
    assert "email" not in category.title.lower()
    assert hist.COLUMNS["hard_soft"].value(d).text == "Hard"
    assert hist.COLUMNS["sent_by"].value(d).text == "automated"
    assert hist.COLUMNS["address"].value(d).text == "(617) 555-0000"
    assert hist.COLUMNS["address"].csv_value(d) == "+16175550000"


@pytest.mark.parametrize("days_ago", [0, 1, 40, 200, 400, 800])
@pytest.mark.parametrize("hour", [0, 6, 23])
def test_time_cells_read_as_strftime_wrote_them(days_ago, hour):
    """Sent at: "%b %d %H:%M" this year, "%Y-%m-%d %H:%M" otherwise and in the tooltip, in the clinic's zone."""
    now = timezone.localtime()
    local = now.replace(hour=hour, minute=7, second=59, microsecond=999) - dt.timedelta(days=days_ago)
    sent = local.astimezone(dt.UTC)
    cell = hist.COLUMNS["sent_at"].value({"sent_at": sent})
    same_year = local.year == now.year
    assert cell.text == local.strftime("%b %d %H:%M" if same_year else "%Y-%m-%d %H:%M")
    assert cell.title == local.strftime("%Y-%m-%d %H:%M") == hist.COLUMNS["created_at"].value({"created_at": sent}).text


def test_export_rows_stream_every_row_with_safe_cells(reminder):
    made = rows(reminder, 4)
    Delivery.objects.filter(pk=made[1].pk).update(recipient_name="@SUM(A1)")
    columns = [hist.COLUMNS["recipient"], hist.COLUMNS["status"]]
    lines = list(hist.export_rows(hist.Filters(), columns))
    assert lines[0] == "Recipient,Status\r\n"
    assert len(lines) == 5
    assert "'@SUM(A1),Queued\r\n" in lines


def test_delivery_detail_timeline_in_order(reminder):
    [d] = rows(reminder, 1)
    t0 = d.created_at
    ProviderEvent.objects.create(
        delivery=d,
        provider="twilio",
        event_id="b",
        event_type="status",
        status="delivered",
        received_at=t0 + dt.timedelta(minutes=3),
    )
    Attempt.objects.create(delivery=d, number=1, started_at=t0 + dt.timedelta(minutes=1), outcome="sent")
    ProviderEvent.objects.create(
        delivery=d,
        provider="twilio",
        event_id="a",
        event_type="status",
        status="sent",
        received_at=t0 + dt.timedelta(minutes=2),
    )
    Delivery.objects.filter(pk=d.pk).update(status=Status.DELIVERED, finished_at=t0 + dt.timedelta(minutes=3))
    detail = hist.delivery_detail(d.pk)
    assert [e.kind for e in detail.timeline] == ["created", "attempt", "event", "event", "finished"]
    assert [e.event_id for e in detail.events] == ["a", "b"]
