"""Shared pieces of provider webhook views: finding the delivery by token, answering quickly."""

from __future__ import annotations

from django.db import connection
from django.db.models import Field
from django.http import HttpResponse

from messaging.models import Delivery

# What applying a status callback reads of a delivery (messaging.outcomes); the rest load on first use.
STATUS_FIELDS = (
    "id",
    "channel",
    "address",
    "client_id",
    "user_id",
    "status",
    "provider_message_id",
    "attempt_count",
    "redial_count",
    "resend_count",
)


def delivery_for_token(token: str, channel: str) -> Delivery | None:
    """The delivery whose callback URL carries ``token`` (None for an unknown token)."""
    if not token or len(token) > 64:
        return None
    # The token is unique: no ORDER BY (``first()`` would add one).
    return next(iter(Delivery.objects.filter(token=token, channel=channel)[:1]), None)


def delivery_for_status_callback(token: str, channel: str) -> Delivery | None:
    """:func:`delivery_for_token` for a status callback, the busiest webhook (a message gets two
    to four): only :data:`STATUS_FIELDS`, read with one fixed statement. Building the ORM query of
    a whole delivery row was 40 % of a callback's CPU time (bench/bench_callbacks.py)."""
    if not token or len(token) > 64:
        return None
    fields = _status_fields()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    sql = f"SELECT {columns} FROM {quote(Delivery._meta.db_table)} WHERE token = %s AND channel = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [token, channel])
        row = cursor.fetchone()
    return None if row is None else Delivery.from_db(connection.alias, [field.attname for field in fields], row)


def _status_fields() -> list[Field]:
    """:data:`STATUS_FIELDS` in the model's order (``Model.from_db`` takes the values so)."""
    return [field for field in Delivery._meta.concrete_fields if field.attname in STATUS_FIELDS]


def ok() -> HttpResponse:
    """Empty 200: accepted (also for unknown tokens and duplicates, so providers do not retry)."""
    return HttpResponse("", content_type="text/plain")


def form_payload(post: object) -> dict[str, str]:
    """A POSTed form as a plain dict for ProviderEvent.payload (first value of each field)."""
    return {key: value for key, value in post.items()}  # type: ignore[attr-defined]
