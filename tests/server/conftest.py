"""Fixtures for server tests. Every database test runs on SQLite and, when
``ADMIT_TEST_DATABASE_URL`` is set, again on PostgreSQL (the ``database_url`` parameter).

Fixtures (function-scoped unless noted):

- ``database_url``: a clean database with every model's table (``Base.metadata.create_all``).
  SQLite: a new file per test. PostgreSQL: one private schema per test session (via
  ``?options=-csearch_path=...`` in the URL), truncated before each test.
- ``empty_database_url``: the same backends with no tables at all (migration tests).
- ``clock``: a :class:`server.clock.ManualClock` the app reads; ``clock.advance(timedelta(...))``.
- ``settings``: :class:`server.settings.Settings` for the test (outbox SMS, no background jobs,
  fixed secret key, schema left alone). Change fields for one test by parametrizing
  ``settings_overrides``: ``@pytest.mark.parametrize("settings_overrides",
  [{"merchant_self_registration": True}])``.
- ``app``: ``create_app(settings, clock=clock)``; ``client``: a ``TestClient`` with lifespan.
- ``database``: the app's :class:`server.db.Database`; ``session``: a session on it that the
  fixture commits at the end (use it to arrange data; ``session.commit()`` before calling the API).
- ``sms_outbox``: the app's :class:`server.sms.OutboxSmsSender`.
- ``accounts``: an :class:`AccountFactory` to make people with tokens, without the HTTP dance::

      admin = accounts.platform_admin()
      shop = accounts.merchant("Shop")              # MerchantAccount: .merchant_id, .owner
      checker = accounts.staff(shop, MerchantRole.CHECKER)
      visitor = accounts.visitor()
      client.get("/api/merchant/staff", headers=shop.owner.headers)

  Every account made this way has the password ``tests.server.helpers.DEFAULT_PASSWORD``;
  ``tests.server.helpers`` also has ``auth_headers(token)`` and ``error_code(response)``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from server.app import create_app
from server.clock import ManualClock
from server.db import Base, Database, make_engine, normalize_database_url
from server.features import import_all_models
from server.settings import Settings
from server.sms import OutboxSmsSender
from tests.server.helpers import AccountFactory

POSTGRES_URL = os.environ.get("ADMIT_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]

import_all_models()


def _schema_url(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{normalize_database_url(base_url)}{separator}options=-csearch_path%3D{schema}"


@dataclass
class PostgresSchema:
    """A private PostgreSQL schema: its URL and how to create/drop/empty it."""

    url: str
    name: str

    @classmethod
    def create(cls, base_url: str) -> PostgresSchema:
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = make_engine(base_url)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        engine.dispose()
        return cls(_schema_url(base_url, name), name)

    def drop(self, base_url: str) -> None:
        engine = make_engine(base_url)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_tables_url() -> Iterator[str]:
    """A PostgreSQL schema with every table, shared by the session (tests truncate it)."""
    assert POSTGRES_URL is not None
    schema = PostgresSchema.create(POSTGRES_URL)
    engine = make_engine(schema.url)
    Base.metadata.create_all(engine)
    engine.dispose()
    try:
        yield schema.url
    finally:
        schema.drop(POSTGRES_URL)


def _truncate_all(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_tables_url")
        _truncate_all(url)
        return url
    url = f"sqlite:///{tmp_path / 'admit.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        assert POSTGRES_URL is not None
        schema = PostgresSchema.create(POSTGRES_URL)
        try:
            yield schema.url
        finally:
            schema.drop(POSTGRES_URL)
        return
    yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings for a test: ``@pytest.mark.parametrize("settings_overrides",
    [{"merchant_self_registration": True}])`` replaces this fixture's value."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "database_schema": "none",
        "data_dir": tmp_path / "data",
        "secret_key": "test-secret-key",
        "sms_sender": "outbox",
        "background_jobs": False,
        "log_json": False,
    }
    return Settings(**(values | settings_overrides))


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[FastAPI]:
    application = create_app(settings, clock=clock)
    yield application
    application.state.database.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def database(app: FastAPI) -> Database:
    db: Database = app.state.database
    return db


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.sessions() as db_session:
        yield db_session
        db_session.commit()


@pytest.fixture
def sms_outbox(app: FastAPI) -> OutboxSmsSender:
    sender = app.state.sms_sender
    assert isinstance(sender, OutboxSmsSender)
    return sender


@pytest.fixture
def accounts(database: Database, settings: Settings, clock: ManualClock) -> AccountFactory:
    return AccountFactory(database, settings, clock)
