"""Database plumbing: engines for SQLite and PostgreSQL, the declarative ``Base``, column types
every package shares, and the request-scoped session dependency.

Style: synchronous SQLAlchemy sessions. FastAPI runs ``def`` endpoints in its thread pool, so
endpoints that touch the database are plain ``def`` functions taking a :data:`DbSession`. The
session commits when the endpoint returns without raising, *before* the response is sent (the
dependency has ``scope="function"``), and rolls back otherwise. A service that needs a constraint
error inside the request (to turn it into a 409) calls ``session.flush()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Dialect, Engine, ForeignKey, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

#: Constraint names Alembic can find again (SQLite batch migrations need named constraints).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 5000


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps text without an offset, so values are
    converted to UTC on the way in and marked UTC on the way out. Naive datetimes are refused:
    a naive time is a bug waiting for a server in another zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every model; ``Mapped[datetime]`` columns are :class:`UTCDateTime`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class TenantMixin:
    """Adds ``merchant_id`` to a merchant-owned table: every such row belongs to one merchant.

    Repositories filter on it in every query (see :func:`server.tenancy.owned`).
    """

    @declared_attr
    def merchant_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("merchants.id", ondelete="RESTRICT"), index=True, nullable=False
        )


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` and ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``: SQLite gets WAL, foreign keys and a busy timeout on every
    connection (and its folder is created); PostgreSQL uses psycopg 3."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Leave transaction control to SQLAlchemy's "begin" hook below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite_transaction(connection: Any) -> None:
    """Start every SQLite transaction with the write lock (``BEGIN IMMEDIATE``).

    SQLite serialises writers anyway; taking the lock up front means a read-then-write
    transaction (check stock, then reserve it) waits its turn under the busy timeout instead of
    failing with "database is locked" when it upgrades, and sees no stale read. This plays the
    part ``SELECT ... FOR UPDATE`` plays on PostgreSQL.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Database:
    """One engine and its session factory; the app keeps one in ``app.state.database``."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str, *, echo: bool = False) -> Database:
        engine = make_engine(url, echo=echo)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: commit on success, roll back on any exception."""
    session = get_database(request).sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


#: The session dependency every endpoint and guard uses (one shared session per request).
DbSession = Annotated[Session, Depends(get_session, scope="function")]
