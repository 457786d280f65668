"""Statements over a batch of values whose SQL text does not depend on the batch's size.

The MQTT bridge and the fleet's check-in stage write and look up hundreds of rows per
transaction. ``column IN (...)`` with an expanding parameter, or a multi-row ``VALUES``, gives a
new SQL text for every batch size: SQLAlchemy renders it again and psycopg parses it again (it
caches conversions of short queries only), and under load that parsing was the largest CPU cost
of ingestion. On PostgreSQL these helpers pass each column's values as one array parameter
instead (``= ANY(:values)``), and inserts pass the rows as one JSON text, so the statement is the
same for every batch; on SQLite lookups use ``IN`` (SQLite's parser is cheap).
"""

from __future__ import annotations

import enum
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
    """``INSERT INTO table (every column but id)`` of many rows as one statement with one
    parameter whatever their number: the rows as one JSON text, serialised in C by ``json``
    and taken apart in C by the database (PostgreSQL ``json_to_recordset``, SQLite
    ``json_each``). This skips both SQLAlchemy's per-row parameter handling and psycopg's
    per-value adaptation. Values are converted as SQLAlchemy would store them: aware datetimes
    (naive ones are refused, as ``server.db.UTCDateTime`` refuses them; SQLite gets its UTC
    text), enums as their values. Optionally ``ON CONFLICT (...) DO NOTHING`` and
    ``RETURNING``. Build once per table, run per batch; every row names every column.
    """

    def __init__(
        self, table: Table, *, on_conflict: Sequence[str] = (), returning: Sequence[str] = ()
    ) -> None:
        columns = [column for column in table.columns if column.key != "id"]
        names = ", ".join(column.name for column in columns)
        tail = ""
        if on_conflict:
            tail += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
        if returning:
            tail += f" RETURNING {', '.join(returning)}"
        record = ", ".join(
            f"{column.key} {column.type.compile(dialect=_POSTGRESQL)}" for column in columns
        )
        self.postgresql = text(
            f"INSERT INTO {table.name} ({names}) "
            f"SELECT {', '.join(column.key for column in columns)} "
            f"FROM json_to_recordset(CAST(:rows AS json)) AS batch({record}){tail}"
        )
        extracts = ", ".join(f"json_extract(value, '$.{column.key}')" for column in columns)
        # "WHERE true": SQLite's parser needs it before ON CONFLICT after a SELECT.
        self.sqlite = text(
            f"INSERT INTO {table.name} ({names}) SELECT {extracts} FROM json_each(:rows) "
            f"WHERE true{tail}"
        )

    def run(self, session: Session, rows: Sequence[dict[str, Any]]) -> Sequence[Any]:
        """Insert ``rows`` (dicts by column key); the RETURNING rows, if any."""
        if not rows:
            return []
        statement = self.postgresql if is_postgresql(session) else self.sqlite
        result = session.connection().execute(statement, {"rows": json_rows(session, rows)})
        return result.all() if result.returns_rows else []


def json_rows(session: Session, rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as one JSON text for this session's database (``json_to_recordset`` on
    PostgreSQL, ``json_each`` on SQLite), values converted as SQLAlchemy would store them."""
    convert = _json_postgresql if is_postgresql(session) else _json_sqlite
    return json.dumps(rows, default=convert)


#: How SQLAlchemy's SQLite dialect stores a DATETIME (``server.db.UTCDateTime`` stores UTC).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _json_postgresql(value: object) -> object:
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot store {type(value).__name__} in a batch")


def _json_sqlite(value: object) -> object:
    if isinstance(value, datetime):
        return _aware(value).astimezone(UTC).strftime(_SQLITE_DATETIME)
    return _json_postgresql(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
    return value
