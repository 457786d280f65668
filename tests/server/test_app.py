"""The app factory: health, OpenAPI, request ids, the one error shape, languages; the pool
replacing a connection the database dropped."""

from __future__ import annotations

import gc
import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from server import db
from server.app import create_app
from server.clock import ManualClock
from server.db import Database, make_engine
from server.logs import JsonFormatter
from server.settings import Settings
from tests.server.helpers import error_code


def test_healthz_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] in {"sqlite", "postgresql"}


def test_openapi_lists_the_feature_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/auth/login" in paths
    assert "/healthz" in paths


def test_every_response_carries_a_request_id_and_echoes_a_given_one(client: TestClient) -> None:
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


class _JsonLines(logging.Handler):
    """Formats each record as it is emitted (the request id lives only as long as the request)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_each_request_writes_one_access_line_with_its_request_id(client: TestClient) -> None:
    access = logging.getLogger("server.access")
    handler, level = _JsonLines(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        client.get("/nope", headers={"X-Request-ID": "req-7", "Accept-Language": "en"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    (entry,) = handler.lines
    assert entry["message"] == "GET /nope 404"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/nope", 404)
    assert entry["request_id"] == "req-7"
    assert isinstance(entry["duration_ms"], float)


def test_unknown_route_uses_the_error_shape_in_the_requested_language(client: TestClient) -> None:
    english = client.get("/nope", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 404
    assert english.json() == {
        "error": {"code": "not_found", "message": "Not found", "detail": None}
    }
    chinese = client.get("/nope")
    assert chinese.json()["error"]["message"] == "未找到"


def test_validation_errors_use_the_error_shape(client: TestClient) -> None:
    response = client.post("/api/auth/login", json={"phone": "13800138000"})
    assert response.status_code == 422
    assert error_code(response) == "validation_failed"
    assert response.json()["error"]["detail"][0]["loc"] == ["body", "password"]


def test_a_connection_the_database_dropped_is_replaced_not_served(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection that sat idle is pinged before use (server.db.POOL_PING_IDLE_S; here
    0 s, so the next checkout counts as idle): when PostgreSQL has ended it meanwhile (a
    restart, a dropped link), the pool connects anew and the request never sees the dead one.
    SQLite has no connection to lose."""
    if database.dialect != "postgresql":
        assert client.get("/healthz").status_code == 200
        return
    with database.engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
    killer = make_engine(database.engine.url.render_as_string(hide_password=False))
    with killer.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()
    monkeypatch.setattr(db, "POOL_PING_IDLE_S", 0.0)

    assert client.get("/healthz").status_code == 200
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_the_server_process_freezes_its_start_up_objects_for_the_garbage_collector(
    settings: Settings, clock: ManualClock
) -> None:
    """``create_app(freeze_gc=True)`` (server.asgi) moves what start-up built out of the cyclic
    collector's reach once the lifespan has started, so a full collection while serving walks
    only what requests made since; apps built by tests do not freeze."""
    gc.unfreeze()
    try:
        with TestClient(create_app(settings, clock=clock)) as plain:
            assert plain.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0
        server = create_app(settings, clock=clock, freeze_gc=True)
        assert gc.get_freeze_count() == 0
        with TestClient(server) as served:
            assert gc.get_freeze_count() > 0
            assert served.get("/healthz").status_code == 200
        server.state.database.dispose()
    finally:
        gc.unfreeze()
