"""Issue 15: the Failure Summary's charts: per-channel outcomes by day and failures by category, each one
grouped query, for the period and channel the table uses, and the same numbers as the table."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bounces.taxonomy import Category
from messaging import summary
from messaging.models import Delivery, Status
from messaging.tests.dispatch_support import make_delivery

pytestmark = pytest.mark.django_db

ZONE_NOON = dt.time(12, 0)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, ZONE_NOON))


def _delivery(channel: str, status: str, day: dt.date, category: str = "", **fields: Any) -> Delivery:
    final = status not in (Status.QUEUED, Status.SENDING, Status.SCHEDULED)
    return make_delivery(
        channel=channel,
        status=status,
        bounce_category=category,
        hard_bounce=Category(category).hard if category else None,
        finished_at=_at(day) if final else None,
        created_at=_at(day) - dt.timedelta(hours=1),
        next_attempt_at=None,
        **fields,
    )


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("frontdesk", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_history"))
    client.force_login(user)
    return user


def test_outcomes_per_day_and_channel_in_one_query():
    d1, d2 = dt.date(2026, 3, 2), dt.date(2026, 3, 4)
    _delivery("sms", Status.DELIVERED, d1)
    _delivery("sms", Status.DELIVERED, d1)
    _delivery("sms", Status.FAILED, d2, "Bad-Mailbox")
    _delivery("email", Status.SUPPRESSED, d2, "DNS")
    _delivery("email", Status.QUEUED, d2)  # not finished: counted on the day it was created
    _delivery("sms", Status.DELIVERED, dt.date(2026, 4, 1))  # outside the period
    with CaptureQueriesContext(connection) as queries:
        data = summary.daily_outcomes(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 5), channels=["sms", "email"])
    assert len(queries) == 1
    assert data["unit"] == "day"
    assert data["labels"] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    assert data["series"]["sms"]["delivered"] == [0, 2, 0, 0, 0]
    assert data["series"]["sms"]["failed"] == [0, 0, 0, 1, 0]
    assert data["series"]["email"]["suppressed"] == [0, 0, 0, 1, 0]
    assert data["series"]["email"]["waiting"] == [0, 0, 0, 1, 0]


def test_one_channel_filter_and_a_long_period_by_month():
    _delivery("sms", Status.DELIVERED, dt.date(2026, 1, 10))
    _delivery("sms", Status.DELIVERED, dt.date(2026, 3, 10))
    _delivery("email", Status.DELIVERED, dt.date(2026, 3, 10))
    data = summary.daily_outcomes(start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 30), channels=["sms"])
    assert data["unit"] == "month"
    assert data["labels"] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert data["series"] == {"sms": {**{k: [0] * 6 for k, _, _ in summary.OUTCOMES}, "delivered": [1, 0, 1, 0, 0, 0]}}


def test_an_unbounded_period_lists_only_months_with_deliveries():
    _delivery("fax", Status.FAILED, dt.date(2026, 2, 3), "No-Answer-From-Host")
    data = summary.daily_outcomes(start=dt.date(1, 1, 1), end=dt.date(9999, 12, 31), channels=["fax"])
    assert data["labels"] == ["2026-02"] and data["series"]["fax"]["failed"] == [1]


def test_the_page_passes_the_charts_numbers_by_json_script(client, staff):
    today = timezone.localdate()
    _delivery("sms", Status.FAILED, today, "Bad-Mailbox")
    _delivery("sms", Status.FAILED, today, "Bad-Mailbox")
    _delivery("email", Status.FAILED, today, "Quota-Issues")
    _delivery("email", Status.DELIVERED, today)
    response = client.get(reverse("messaging:summary"))
    html = response.content.decode()
    assert '<script id="summary-chart-data" type="application/json">' in html
    start = html.index('<script id="summary-chart-data" type="application/json">')
    payload = html[html.index(">", start) + 1 : html.index("</script>", start)]
    data = json.loads(payload)
    table_totals = {r.category: r.total for r in response.context["rows"] if r.total}
    assert (
        {c["category"]: c["total"] for c in data["categories"]} == table_totals == {"Bad-Mailbox": 2, "Quota-Issues": 1}
    )
    sms = next(c for c in data["channels"] if c["key"] == "sms")
    assert sms["totals"]["failed"] == 2 and sum(sms["totals"].values()) == 2
    email = next(c for c in data["channels"] if c["key"] == "email")
    assert email["totals"]["delivered"] == 1 and email["totals"]["failed"] == 1
    assert 'id="chart-outcomes-sms"' in html and 'aria-label="Text (SMS): 2 deliveries this month: 2 failed."' in html
    assert "Failures by category this month: Bad-Mailbox 2 (hard); Quota-Issues 1 (soft)." in html
    assert "<script>" not in html  # no inline script: only the json_script data block
    htmx = client.get(reverse("messaging:summary"), {"channel": "email"}, HTTP_HX_REQUEST="true")
    assert 'id="summary-chart-data"' in htmx.content.decode()
    assert [c["key"] for c in htmx.context["charts"]["channels"]] == ["email"]


def test_chart_tables_leave_out_empty_days():
    charts = {
        "unit": "day",
        "labels": ["2026-03-01", "2026-03-02"],
        "outcomes": [{"key": k, "label": label, "colour": c} for k, label, c in summary.OUTCOMES],
        "channels": [
            {
                "key": "sms",
                "label": "Text (SMS)",
                "counts": {k: ([0, 3] if k == "delivered" else [0, 0]) for k, _, _ in summary.OUTCOMES},
                "totals": {k: (3 if k == "delivered" else 0) for k, _, _ in summary.OUTCOMES},
            }
        ],
        "categories": [],
    }
    tables, words = summary.chart_tables(charts, "this month")
    assert tables[0].rows == [("2026-03-02", [3, 0, 0, 0, 0, 0])]
    assert tables[0].summary == "Text (SMS): 3 deliveries this month: 3 delivered."
    assert words == ""
