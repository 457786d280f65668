"""Statements over a batch of values whose SQL text does not depend on the batch's size.

The MQTT bridge and the fleet's check-in stage write and look up hundreds of rows per
transaction. ``column IN (...)`` with an expanding parameter, or a multi-row ``VALUES``, gives a
new SQL text for every batch size: SQLAlchemy renders it again and psycopg parses it again (it
caches conversions of short queries only), and under load that parsing was the largest CPU cost
of ingestion. On PostgreSQL these helpers pass each column's values as one array parameter
instead (``= ANY(:values)``, ``INSERT ... SELECT * FROM unnest(...)``), so the statement is the
same for every batch; on SQLite they fall back to the portable forms (SQLite's parser is cheap).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Table, TextClause, any_, bindparam, insert, text
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


def insert_from_arrays_statement(
    table: Table, *, on_conflict: Sequence[str] = (), returning: Sequence[str] = ()
) -> TextClause:
    """PostgreSQL ``INSERT INTO table (every column but id) SELECT * FROM unnest(:col, ...)``,
    one array parameter per column (named by column key); optionally ``ON CONFLICT (...) DO
    NOTHING`` and ``RETURNING``. Build it once; run it with :func:`insert_from_arrays`."""
    columns = [column for column in table.columns if column.key != "id"]
    arrays = ", ".join(
        f"CAST(:{column.key} AS {column.type.compile(dialect=_POSTGRESQL)}[])" for column in columns
    )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(column.name for column in columns)}) "
        f"SELECT * FROM unnest({arrays})"
    )
    if on_conflict:
        sql += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


def insert_from_arrays(
    session: Session, statement: TextClause, table: Table, rows: Sequence[dict[str, Any]]
) -> Sequence[Any]:
    """Run a statement of :func:`insert_from_arrays_statement` for ``rows`` (dicts by column
    key; datetimes aware); the RETURNING rows, if any."""
    columns = [column.key for column in table.columns if column.key != "id"]
    arrays = {key: [_plain(row[key]) for row in rows] for key in columns}
    result = session.connection().execute(statement, arrays)
    return result.all() if result.returns_rows else []


def insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` as fast as the database allows: from arrays on PostgreSQL, else one
    ``executemany``."""
    if not rows:
        return
    if is_postgresql(session):
        insert_from_arrays(session, _cached_insert(table), table, rows)
    else:
        session.connection().execute(insert(table), list(rows))


_INSERTS: dict[str, TextClause] = {}


def _cached_insert(table: Table) -> TextClause:
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = insert_from_arrays_statement(table)
    return statement


def _plain(value: Any) -> Any:
    """Enum members as their values: an array of text does not know the Python enum."""
    return getattr(value, "value", value)
