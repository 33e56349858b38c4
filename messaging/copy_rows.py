"""Bulk-load of many rows of one model with PostgreSQL ``COPY … FROM STDIN`` in its text format.

Send writes up to 100,000 deliveries in one transaction. psycopg's ``Copy.write_row`` adapts every
value of every row (24 columns × 100,000 rows); here the values every row shares are turned into
COPY text once, only the varying ones per row, and the lines go to the server in large chunks.

The text format (PostgreSQL docs, "COPY", File Formats → Text Format): columns separated by a tab,
rows by a newline, ``\\N`` for NULL, and a backslash, tab, newline or carriage return inside a value
escaped with a backslash. Only the value types Django's ``get_db_prep_save`` gives for the model's
fields are accepted (str, int, bool, None, aware datetime, date); anything else raises ``TypeError``
so that a new kind of column is noticed by the tests instead of being written wrongly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

NULL = "\\N"
CHUNK_ROWS = 5000
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return NULL
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_ESCAPES)
        return value
    if isinstance(value, bool):  # before int: bool is an int
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in a COPY row: the project stores aware datetimes only")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"no COPY text form for {type(value).__name__}")


def copy_rows(
    model: type[Model],
    defaults: Model,
    rows: Iterable[Mapping[str, Any]],
    *,
    per_row: Mapping[str, Callable[[], Any]] | None = None,
) -> int:
    """COPY one row per mapping of ``rows`` (attname → value) into ``model``'s table.

    Every concrete field but the primary key is written; a field missing from a row takes its value on
    ``defaults`` (an unsaved instance: model defaults plus what all rows share, prepared once with
    ``get_db_prep_save``), or a fresh value from ``per_row[attname]()`` (a unique token). Runs in the
    caller's transaction. Returns the number of rows written.
    """
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    position = {f.attname: i for i, f in enumerate(fields)}
    base = [copy_text(f.get_db_prep_save(getattr(defaults, f.attname), connection)) for f in fields]
    fresh: Sequence[tuple[int, Callable[[], Any]]] = [(position[name], make) for name, make in (per_row or {}).items()]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    count = 0
    lines: list[str] = []
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values = base.copy()
            for name, value in row.items():
                values[position[name]] = copy_text(value)
            for at, make in fresh:
                values[at] = copy_text(make())
            lines.append("\t".join(values))
            count += 1
            if len(lines) == CHUNK_ROWS:
                copy.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            copy.write("\n".join(lines) + "\n")
    return count
