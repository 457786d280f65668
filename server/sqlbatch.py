"""Statements over a batch of values whose SQL text does not depend on the batch's size.

The MQTT bridge and the fleet's check-in stage write and look up hundreds of rows per
transaction. ``column IN (...)`` with an expanding parameter, or a multi-row ``VALUES``, gives a
new SQL text for every batch size: SQLAlchemy renders it again and psycopg parses it again (it
caches conversions of short queries only), and under load that parsing was the largest CPU cost
of ingestion. On PostgreSQL these helpers pass each column's values as one array parameter
instead (``= ANY(:values)``, ``INSERT ... SELECT * FROM unnest(...)``), so the statement is the
same for every batch; on SQLite, lookups use ``IN`` (SQLite's parser is cheap) and inserts pass
the rows as one JSON text (``json_each``), which skips SQLAlchemy's per-row parameter handling.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Table, any_, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def one_of(
    session: Session, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``: on PostgreSQL ``column = ANY(:array)``, one statement for any size."""
    if is_postgresql(session):
        array = bindparam(None, list(values), type_=ARRAY(column.type))
        return column == any_(array)
    return column.in_(values)


class BatchInsert:
    """``INSERT INTO table (every column but id)`` of many rows as one statement whose text does
    not depend on how many: on PostgreSQL ``SELECT * FROM unnest(:col, ...)`` with one array
    parameter per column; on SQLite ``SELECT json_extract(value, '$[i]'), ... FROM
    json_each(:rows)`` with the rows as one JSON text (values converted as SQLAlchemy would
    store them: datetimes as UTC text, enums as their values, booleans as 0/1). Optionally
    ``ON CONFLICT (...) DO NOTHING`` and ``RETURNING``. Build once per table, run per batch.
    """

    def __init__(
        self, table: Table, *, on_conflict: Sequence[str] = (), returning: Sequence[str] = ()
    ) -> None:
        self.columns = [column for column in table.columns if column.key != "id"]
        names = ", ".join(column.name for column in self.columns)
        tail = ""
        if on_conflict:
            tail += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
        if returning:
            tail += f" RETURNING {', '.join(returning)}"
        arrays = ", ".join(
            f"CAST(:{column.key} AS {column.type.compile(dialect=_POSTGRESQL)}[])"
            for column in self.columns
        )
        self.postgresql = text(
            f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}){tail}"
        )
        extracts = ", ".join(
            f"json_extract(value, '$[{index}]')" for index in range(len(self.columns))
        )
        # "WHERE true": SQLite's parser needs it before ON CONFLICT after a SELECT.
        self.sqlite = text(
            f"INSERT INTO {table.name} ({names}) SELECT {extracts} FROM json_each(:rows) "
            f"WHERE true{tail}"
        )

    def run(self, session: Session, rows: Sequence[dict[str, Any]]) -> Sequence[Any]:
        """Insert ``rows`` (dicts by column key; datetimes aware); the RETURNING rows, if any."""
        if not rows:
            return []
        keys = [column.key for column in self.columns]
        if is_postgresql(session):
            arrays = {key: [_plain(row[key]) for row in rows] for key in keys}
            result = session.connection().execute(self.postgresql, arrays)
        else:
            table = [[_sqlite_value(row[key]) for key in keys] for row in rows]
            result = session.connection().execute(self.sqlite, {"rows": json.dumps(table)})
        return result.all() if result.returns_rows else []


def _plain(value: Any) -> Any:
    """Enum members as their values (an array of text does not know the Python enum); naive
    datetimes refused, as ``server.db.UTCDateTime`` refuses them."""
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
    return getattr(value, "value", value)


#: How SQLAlchemy's SQLite dialect stores a DATETIME (``server.db.UTCDateTime`` stores UTC).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_value(value: Any) -> Any:
    plain = _plain(value)
    if isinstance(plain, datetime):
        return plain.astimezone(UTC).strftime(_SQLITE_DATETIME)
    return plain
