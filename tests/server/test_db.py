"""Engines, the UTC datetime column, and URL handling on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError, StatementError

from server.db import Database, UTCDateTime, make_engine, normalize_database_url

SHANGHAI = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
    ],
)
def test_database_urls_use_psycopg_3(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


def test_utc_datetimes_round_trip_aware(empty_database_url: str) -> None:
    metadata = MetaData()
    table = Table(
        "times", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
    )
    engine = make_engine(empty_database_url)
    try:
        metadata.create_all(engine)
        local = datetime(2025, 5, 1, 9, 30, tzinfo=SHANGHAI)
        with engine.begin() as connection:
            connection.execute(table.insert().values(id=1, at=local))
            stored = connection.execute(select(table.c.at)).scalar_one()
        assert stored == local
        assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
        assert stored == datetime(2025, 5, 1, 1, 30, tzinfo=UTC)
        with pytest.raises(StatementError, match="naive datetime"), engine.begin() as connection:
            connection.execute(table.insert().values(id=2, at=datetime(2025, 5, 1, 9, 30)))
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/folder/db.sqlite3")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 5000
    finally:
        engine.dispose()


def _counts_table() -> tuple[MetaData, Table]:
    metadata = MetaData()
    return metadata, Table("counts", metadata, Column("id", Integer, primary_key=True))


def test_read_transactions_never_wait_for_the_writer(empty_database_url: str) -> None:
    metadata, table = _counts_table()
    database = Database.connect(empty_database_url)
    try:
        metadata.create_all(database.engine)
        with database.sessions() as writer:
            writer.execute(table.insert().values(id=1))  # holds SQLite's write lock
            with database.read() as reader:  # would hit the busy timeout if it took the lock
                assert reader.scalar(select(func.count()).select_from(table)) == 0
            writer.commit()
        with database.read() as reader:
            assert reader.scalar(select(func.count()).select_from(table)) == 1
    finally:
        database.dispose()


def test_sqlite_read_transactions_refuse_writes(tmp_path: object) -> None:
    metadata, table = _counts_table()
    database = Database.connect(f"sqlite:///{tmp_path}/read.sqlite3")
    try:
        metadata.create_all(database.engine)
        with database.read() as reader, pytest.raises(DBAPIError, match="readonly"):
            reader.execute(table.insert().values(id=1))
        with database.sessions.begin() as writer:  # the same connection writes again
            writer.execute(table.insert().values(id=2))
        with database.read() as reader:
            assert reader.scalars(select(table.c.id)).all() == [2]
    finally:
        database.dispose()
