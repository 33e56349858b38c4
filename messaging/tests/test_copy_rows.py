"""The COPY text writer of Send (messaging.copy_rows): values, escapes, and a round trip on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
import re

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.tests.factories import make_client
from messaging.broadcasts import broadcast_create
from messaging.copy_rows import copy_text
from messaging.models import Delivery, MessageType, new_token, new_tokens
from tests.fixtures import need


def test_values_take_postgresqls_copy_text_form() -> None:
    at = dt.datetime(2026, 12, 6, 19, 30, 5, 120, tzinfo=dt.UTC)
    assert copy_text(None) == "\\N"
    assert copy_text(True) == "t" and copy_text(False) == "f"
    assert copy_text(42) == "42"
    assert copy_text("Lopez, Ana") == "Lopez, Ana"
    assert copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert copy_text(at) == "2026-12-06T19:30:05.000120+00:00"
    assert copy_text(dt.date(2026, 12, 6)) == "2026-12-06"


@pytest.mark.parametrize("value", [dt.datetime(2026, 12, 6, 19, 30), decimal.Decimal("1.5"), b"bytes", 1.5])
def test_a_value_without_a_known_form_is_refused_not_guessed(value: object) -> None:
    with pytest.raises(TypeError):
        copy_text(value)


@settings(max_examples=25, deadline=None)
@given(name=st.text(max_size=60).filter(lambda s: "\x00" not in s))
@pytest.mark.django_db
def test_any_name_is_stored_exactly_as_given(name: str) -> None:
    """Send writes with COPY on PostgreSQL: what comes back is what went in, escapes and all."""
    need(connection.vendor == "postgresql", "PostgreSQL for the COPY path of Send")
    client = make_client(first_name="Ana", last_name=name or "X", cell_phone="+16175550100")
    result = broadcast_create(message_type=MessageType.objects.get(code="ad-hoc-clients"), channels=["sms"])
    delivery = Delivery.objects.get(broadcast=result.broadcast)
    assert delivery.recipient_name == f"{name or 'X'}, Ana"
    assert delivery.status == "queued" and len(delivery.token) == 32
    assert delivery.next_attempt_at == result.broadcast.broadcast_at
    result.broadcast.delete()
    client.delete()


def test_tokens_made_together_look_like_tokens_made_one_by_one() -> None:
    """Send's 100,000 tokens come from one call for random bytes (models.new_tokens)."""
    many = new_tokens(1000)
    assert len(many) == 1000 and len(set(many)) == 1000
    shape = re.compile(r"[A-Za-z0-9_-]{32}")
    assert all(shape.fullmatch(token) for token in [*many, new_token()])
    assert new_tokens(0) == [] and len(new_tokens(1)) == 1
