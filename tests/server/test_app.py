"""The app factory: health, OpenAPI, request ids, the one error shape, languages."""

from __future__ import annotations

from fastapi.testclient import TestClient

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
