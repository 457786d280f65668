"""Batch statements store exactly what the ORM would, on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean, Enum, Integer, String, UniqueConstraint, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.db import Database, UTCDateTime, make_engine
from server.sqlbatch import BatchInsert, one_of


class Colour(enum.StrEnum):
    RED = "red"
    DARK_BLUE = "dark-blue"


class _Base(DeclarativeBase):
    pass


class Row(_Base):
    __tablename__ = "batch_rows"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    number: Mapped[int | None] = mapped_column(Integer)
    flag: Mapped[bool] = mapped_column(Boolean)
    colour: Mapped[Colour] = mapped_column(
        Enum(Colour, native_enum=False, values_callable=lambda m: [x.value for x in m])
    )
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())


TABLE = Row.__table__
INSERT = BatchInsert(TABLE, on_conflict=("key",), returning=("key",))  # type: ignore[arg-type]
PLAIN_INSERT = BatchInsert(TABLE)  # type: ignore[arg-type]


@pytest.fixture
def database(empty_database_url: str) -> Any:
    engine = make_engine(empty_database_url)
    _Base.metadata.create_all(engine)
    engine.dispose()
    db = Database.connect(empty_database_url)
    yield db
    db.dispose()


def _values(key: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "key": key,
        "number": 7,
        "flag": True,
        "colour": Colour.DARK_BLUE,
        "at": datetime(2026, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=8))),
    }
    values.update(changes)
    return values


def _stored(database: Database, key: str) -> tuple[Any, ...]:
    with database.sessions() as session:
        row = session.scalars(select(Row).where(Row.key == key)).one()
        return (row.number, row.flag, row.colour, row.at)


def test_a_batch_stores_what_the_orm_stores(database: Database) -> None:
    """Same values through the ORM and through the batch: read back equal, and on SQLite the
    very same stored text (string comparison is how SQLite orders datetimes)."""
    whole_second = datetime(2026, 5, 1, 1, 30, tzinfo=UTC)
    with database.sessions.begin() as session:
        session.add(Row(**_values("orm", at=whole_second)))
        session.add(Row(**_values("orm-null", number=None, flag=False, at=None)))
    with database.sessions.begin() as session:
        PLAIN_INSERT.run(
            session,
            [
                _values("batch", at=whole_second),
                _values("batch-null", number=None, flag=False, at=None),
            ],
        )
    assert _stored(database, "batch") == _stored(database, "orm")
    assert _stored(database, "batch-null") == _stored(database, "orm-null")
    with database.sessions() as session:
        query = text("SELECT key, CAST(at AS TEXT) FROM batch_rows")
        raw: dict[str, str] = {key: at for key, at in session.execute(query).all()}
    assert raw["batch"] == raw["orm"]


def test_conflicts_are_skipped_and_only_new_keys_returned(database: Database) -> None:
    with database.sessions.begin() as session:
        first = INSERT.run(session, [_values("a"), _values("b")])
    with database.sessions.begin() as session:
        again = INSERT.run(session, [_values("b"), _values("c")])
    assert sorted(key for (key,) in first) == ["a", "b"]
    assert [key for (key,) in again] == ["c"]


def test_naive_datetimes_are_refused(database: Database) -> None:
    with database.sessions.begin() as session, pytest.raises(Exception, match="naive"):
        PLAIN_INSERT.run(session, [_values("x", at=datetime(2026, 1, 1))])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(
        st.text(
            st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
            min_size=1,
            max_size=20,
        ),
        max_size=30,
    ),
    number=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    at=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)
def test_any_text_and_numbers_survive_a_batch_and_one_of_finds_them(
    database: Database, keys: list[str], number: int | None, at: datetime
) -> None:
    unique = list(dict.fromkeys(keys))
    with database.sessions.begin() as session:
        session.execute(text("DELETE FROM batch_rows"))
        PLAIN_INSERT.run(session, [_values(key, number=number, at=at) for key in unique])
    with database.sessions() as session:
        found = session.execute(
            select(Row.key, Row.number, Row.at).where(one_of(session, TABLE.c.key, unique))
        ).all()
    assert sorted(found) == sorted((key, number, at) for key in unique)
