"""Database plumbing: engines for SQLite and PostgreSQL, the declarative ``Base``, column types
every package shares, and the request-scoped session dependency.

Style: synchronous SQLAlchemy sessions. FastAPI runs ``def`` endpoints in its thread pool, so
endpoints that touch the database are plain ``def`` functions taking a :data:`DbSession`. The
session commits when the endpoint returns without raising, *before* the response is sent (the
dependency has ``scope="function"``), and rolls back otherwise. A service that needs a constraint
error inside the request (to turn it into a 409) calls ``session.flush()``.

Transactions are *read* or *write*, decided when they begin (see docs/server.md, "Sessions and
transactions"):

- A write transaction takes SQLite's write lock up front (``BEGIN IMMEDIATE``), so a
  read-then-write (check stock, then reserve it) waits its turn and never works on a stale
  snapshot. :attr:`Database.sessions` and the session of a ``POST``/``PUT``/``PATCH``/``DELETE``
  request are write sessions.
- A read transaction (``BEGIN`` with ``PRAGMA query_only`` on SQLite) takes no lock, runs
  beside the writer, and refuses to write on SQLite (on PostgreSQL it is an ordinary
  transaction: readers never block writers there). :meth:`Database.read` and the
  session of a ``GET``/``HEAD``/``OPTIONS`` request are read sessions.

No worker thread waits for something only a thread-less request can release. A request's
database work spans several worker-thread hops (the guard's read, the endpoint, FastAPI's
validation of the answer, the commit); with more requests in flight than threads, threads
blocked on a connection or on SQLite's write lock could wait for a holder that cannot get a
thread. So requests queue *on the event loop*, holding no thread, before they touch the
database (:class:`RequestGate`): at most :data:`REQUEST_SESSIONS` requests per process use the
database at once (fewer than the threads, and the pools hold twice as many connections), and on
SQLite one write request at a time (so no thread ever waits on the write lock for a request of
its own process). Guards resolve the caller in their own short read (:meth:`Database.read`).
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    Enum,
    ForeignKey,
    MetaData,
    create_engine,
    event,
    exc,
    func,
    select,
    text,
)
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

#: Threads that run sync endpoints and dependencies in each server process (anyio's default
#: limiter, set explicitly at start-up by :mod:`server.app`).
WORKER_THREADS = 40
#: Requests per process that may use the database at once (:class:`RequestGate`).
REQUEST_SESSIONS = 20
#: Connections an engine keeps open, and the most it may open: two per admitted request (the
#: guard's read and the session) and ten for the periodic jobs and the fleet bridge, so a thread
#: never waits for a connection.
POOL_SIZE = 20
POOL_CAPACITY = 2 * REQUEST_SESSIONS + 10
#: A pooled PostgreSQL connection left unused for longer than this is pinged before it is
#: handed out again (a database restart or a dropped link leaves dead connections behind). One
#: in steady use is not: SQLAlchemy's ``pool_pre_ping`` would cost a round trip per checkout,
#: that is per request.
POOL_PING_IDLE_S = 10.0
_RETURNED_AT = "admit_returned_at"

#: Execution option naming a connection's transactions ``read`` or ``write`` (the default).
ACCESS_OPTION = "admit_access"
READ = "read"
WRITE = "write"
#: HTTP methods whose request session is a read session.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def enum_column(enum_type: type[enum.StrEnum], name: str, *, length: int = 16) -> Enum:
    """The column type of a string enum: stored as its plain values (``VARCHAR`` with a
    ``CHECK`` constraint named ``name``), portable and readable in SQL, never a database enum
    type (adding a member is then a constraint change, not a type change)."""
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


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
    connection (and its folder is created), and read or write transactions (see the module
    docstring); PostgreSQL uses psycopg 3. Both pools hold up to :data:`POOL_CAPACITY`."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    # LIFO: the most recently used connections serve the next requests, so the few that steady
    # traffic needs stay warm and the rest of the pool sits idle (and is pinged when used).
    pool = {
        "pool_size": POOL_SIZE,
        "max_overflow": POOL_CAPACITY - POOL_SIZE,
        "pool_use_lifo": True,
    }
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, echo=echo, **pool)
        event.listen(engine.pool, "checkin", _note_return)
        event.listen(engine.pool, "checkout", _ping_if_idle(engine.dialect))
        return engine
    database = parsed.database
    in_memory = not database or database == ":memory:" or database.startswith("file:")
    if database and not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **({} if in_memory else pool),
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    """A checkout hook that pings a connection which sat in the pool longer than
    :data:`POOL_PING_IDLE_S`; a dead one makes the pool drop every connection as old as it and
    connect anew (SQLAlchemy's pessimistic disconnect handling, as ``pool_pre_ping`` does it)."""

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < POOL_PING_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error
            raise

    return on_checkout


def read_only_engine(engine: Engine) -> Engine:
    """The same engine and pool, whose transactions are read transactions.

    On SQLite that means no lock and ``query_only``. On PostgreSQL reads never block writers
    anyway, so a read transaction is an ordinary one (a ``GET`` may still lock rows with
    ``FOR UPDATE`` for a consistent multi-part answer, as the fleet's list snapshot does)."""
    return engine.execution_options(**{ACCESS_OPTION: READ})


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Leave transaction control to SQLAlchemy's "begin" hook below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    """Begin a write transaction with the write lock (``BEGIN IMMEDIATE``), a read transaction
    without any lock (``BEGIN``, with ``query_only`` so that a write fails at once).

    SQLite serialises writers anyway; taking the lock up front means a read-then-write
    transaction waits its turn under the busy timeout instead of failing with "database is
    locked" (or a stale snapshot) when it upgrades. This plays the part ``SELECT ... FOR
    UPDATE`` plays on PostgreSQL.
    """
    read_only = connection.get_execution_options().get(ACCESS_OPTION, WRITE) == READ
    state = connection.connection.info
    if state.get("query_only", False) != read_only:
        connection.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
        state["query_only"] = read_only
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@dataclass
class Database:
    """One engine and its session factories; the app keeps one in ``app.state.database``.

    ``sessions`` make write sessions (jobs, CLI, seeding: ``with database.sessions.begin() as
    session``); ``read_sessions`` make read sessions on the same pool.
    """

    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str, *, echo: bool = False) -> Database:
        engine = make_engine(url, echo=echo)
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(read_only_engine(engine), expire_on_commit=False),
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A short read transaction on its own connection, ended (rolled back) on exit."""
        with self.read_sessions() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


class RequestGate:
    """Where requests wait, on the event loop and without a worker thread, for their turn at the
    database: ``sessions`` admits :data:`REQUEST_SESSIONS` at once; ``writer`` (SQLite only)
    admits one write request of this process at a time."""

    def __init__(self, dialect: str, sessions: int = REQUEST_SESSIONS) -> None:
        self.sessions = anyio.Semaphore(sessions)
        self.writer: anyio.Lock | None = anyio.Lock() if dialect == "sqlite" else None


def get_gate(request: Request) -> RequestGate:
    gate: RequestGate = request.app.state.database_gate
    return gate


async def request_turn(request: Request) -> AsyncIterator[None]:
    """Hold one of the process's database turns for the rest of the request."""
    async with get_gate(request).sessions:
        yield


#: Depend on this before touching the database in a dependency (the guards do).
DatabaseTurn = Annotated[None, Depends(request_turn, scope="function")]


async def _write_turn(request: Request, _turn: DatabaseTurn) -> AsyncIterator[None]:
    writer = get_gate(request).writer
    if writer is None:
        yield
        return
    async with writer:
        yield


async def _method_turn(request: Request, _turn: DatabaseTurn) -> AsyncIterator[None]:
    writer = get_gate(request).writer
    if writer is None or request.method in READ_METHODS:
        yield
        return
    async with writer:
        yield


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_session(
    request: Request, _turn: Annotated[None, Depends(_method_turn, scope="function")]
) -> Iterator[Session]:
    """One session per request, a read session for ``GET``/``HEAD``/``OPTIONS`` and a write
    session otherwise: commit on success, roll back on any exception.

    It waits for the request's turn first (:class:`RequestGate`), opens no connection until the
    endpoint's first statement, and FastAPI runs its exit (the commit) without waiting for a
    free worker thread.
    """
    database: Database = request.app.state.database
    write = request.method not in READ_METHODS
    yield from _transaction(database.sessions() if write else database.read_sessions())


def get_write_session(
    request: Request, _turn: Annotated[None, Depends(_write_turn, scope="function")]
) -> Iterator[Session]:
    """A write session whatever the method (a ``GET`` that creates something on first need)."""
    database: Database = request.app.state.database
    yield from _transaction(database.sessions())


def _transaction(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


#: The session dependency every endpoint uses (one shared session per request): read for
#: ``GET``/``HEAD``/``OPTIONS``, write otherwise. Dependencies that only need to read (guards)
#: take :data:`DatabaseTurn` and use :meth:`Database.read`, so that the request's write
#: transaction begins in the endpoint's own thread.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
#: A write session for a ``GET`` endpoint that must write (use it instead of ``DbSession``).
WriteSession = Annotated[Session, Depends(get_write_session, scope="function")]
#: The app's :class:`Database`.
AppDatabase = Annotated[Database, Depends(get_database)]


def advisory_key(kind: str, value: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (the same in every process,
    unlike ``hash()``); a collision only makes two unrelated transactions wait for each other."""
    digest = hashlib.sha256(f"admit.{kind}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold_advisory_lock(session: Session, kind: str, value: str) -> None:
    """PostgreSQL: hold the lock named ``kind``/``value`` until the transaction ends. SQLite:
    nothing to do, a write transaction already holds the database's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(advisory_key(kind, value))))
