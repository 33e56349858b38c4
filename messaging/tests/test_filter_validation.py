"""Filter and query parameters never give a 500 (issue 13, row 6): History, its CSV export, Failure Summary.

Extreme but valid dates (0001-01-01, 9999-12-31) bound nothing; an id no database column can hold
(30 digits) matches nothing. Each was a 500 before (``OverflowError`` in the date arithmetic, the
database driver's overflow on the id); the CSV export aborted mid-stream.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from bounces.tests.deliveries import make_delivery
from messaging import history as hist
from messaging import summary

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


@pytest.fixture
def viewer(django_user_model: Any) -> Client:
    user = django_user_model.objects.create_user("viewer", password="viewer-pass-123")
    user.user_permissions.set(Permission.objects.filter(codename="view_history"))
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def failed() -> Any:
    return make_delivery(
        status="failed", bounce_category="Bad-Mailbox", hard_bounce=True, finished_at=timezone.now(), address="f@x.org"
    )


def body(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "date_to=9999-12-31",
        "date_to=9999-12-30",
        "date_from=0001-01-01",
        "date_from=0001-01-01&date_to=9999-12-31",
        "date_from=9999-12-31",
        f"broadcast={HUGE}",
        f"broadcast=-{HUGE}",
        f"message_type={HUGE}",
        f"after=1.{HUGE}",
        f"before={HUGE}.{HUGE}",
    ],
)
@pytest.mark.parametrize("url", ["/messaging/history/", "/messaging/history/export.csv"])
def test_history_and_its_export_answer_any_filter(viewer: Client, failed: Any, url: str, query: str) -> None:
    response = viewer.get(f"{url}?{query}")
    assert response.status_code == 200
    body(response)  # the export streams: a failure would come while reading it


def test_extreme_dates_bound_nothing_and_a_huge_id_matches_nothing(failed: Any) -> None:
    everything = hist.Filters(date_from=dt.date(1, 1, 1), date_to=dt.date(9999, 12, 31))
    assert list(hist.filtered(everything)) == [failed]
    assert list(hist.filtered(hist.Filters(date_from=dt.date(9999, 12, 31)))) == []
    assert list(hist.filtered(hist.Filters(broadcast_id=int(HUGE)))) == []
    assert list(hist.filtered(hist.Filters(broadcast_id=failed.broadcast_id))) == [failed]
    assert hist.Cursor.decode(f"1.{HUGE}") is None


def test_the_export_of_a_huge_broadcast_id_is_just_the_header(viewer: Client, failed: Any) -> None:
    lines = body(viewer.get(f"/messaging/history/export.csv?broadcast={HUGE}")).splitlines()
    assert len(lines) == 1 and lines[0].startswith("Sent at")


@pytest.mark.parametrize(
    "query", ["end=9999-12-31", "start=0001-01-01", "start=0001-01-01&end=9999-12-31", "start=9999-12-31"]
)
def test_failure_summary_answers_extreme_dates(viewer: Client, failed: Any, query: str) -> None:
    response = viewer.get(f"/messaging/failures/?{query}")
    assert response.status_code == 200


def test_failure_summary_counts_everything_up_to_the_end_of_time(failed: Any) -> None:
    counts = summary.failure_counts(start=dt.date(1, 1, 1), end=dt.date(9999, 12, 31))
    assert counts == {("Bad-Mailbox", "email"): 1}
    assert summary.failure_counts(start=dt.date(9999, 12, 31), end=dt.date(9999, 12, 31)) == {}
