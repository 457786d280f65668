"""Routers that are skipped when none of their paths can match: matching stays FastAPI's own
(parameters, 404, 405, slash redirects, OpenAPI) while a router whose paths cannot match is
never walked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.routing import Host, Match

from server.routing import PathFilteredRouter, literal_starts


def _orders_router() -> APIRouter:
    router = APIRouter(prefix="/api/orders")

    @router.get("")
    def list_orders() -> list[int]:
        return [1]

    @router.get("/{order_id}")
    def get_order(order_id: int) -> dict[str, int]:
        return {"order_id": order_id}

    @router.post("/{order_id}/pay")
    def pay(order_id: int) -> dict[str, int]:
        return {"paid": order_id}

    return router


def _events_router() -> APIRouter:
    router = APIRouter(prefix="/api/events")

    @router.get("/{event_id}/tickets/{ticket_id}")
    def ticket(event_id: int, ticket_id: int) -> dict[str, int]:
        return {"event": event_id, "ticket": ticket_id}

    return router


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(PathFilteredRouter(_orders_router()))
    app.include_router(PathFilteredRouter(_events_router()))
    with TestClient(app) as test_client:
        yield test_client


def test_literal_starts_are_the_text_before_the_first_parameter() -> None:
    assert literal_starts(_orders_router().routes) == ("/api/orders", "/api/orders/")
    assert literal_starts(_events_router().routes) == ("/api/events/",)


def test_a_router_with_a_route_without_a_path_is_always_tried() -> None:
    router = APIRouter()
    router.routes.append(Host("example.org", app=FastAPI()))
    assert literal_starts(router.routes) is None
    filtered = PathFilteredRouter(router)
    assert filtered.literal_starts is None


def test_requests_reach_their_routes_with_their_parameters(client: TestClient) -> None:
    assert client.get("/api/orders").json() == [1]
    assert client.get("/api/orders/7").json() == {"order_id": 7}
    assert client.post("/api/orders/7/pay").json() == {"paid": 7}
    assert client.get("/api/events/3/tickets/4").json() == {"event": 3, "ticket": 4}


def test_unknown_paths_and_wrong_methods_answer_as_fastapi_does(client: TestClient) -> None:
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/events/3").status_code == 404
    assert client.get("/api/orders/7/pay").status_code == 405
    assert client.get("/api/orders/x").status_code == 422
    redirected = client.get("/api/orders/", follow_redirects=False)
    assert redirected.status_code == 307
    assert redirected.headers["location"].endswith("/api/orders")


def test_openapi_still_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/api/orders",
        "/api/orders/{order_id}",
        "/api/orders/{order_id}/pay",
        "/api/events/{event_id}/tickets/{ticket_id}",
    }


def test_a_router_whose_paths_cannot_match_is_not_walked() -> None:
    router = _events_router()
    walked: list[str] = []
    original = router.routes[0].matches

    def counting(scope: dict[str, object]) -> tuple[Match, dict[str, object]]:
        walked.append(str(scope["path"]))
        return original(scope)  # type: ignore[arg-type]

    router.routes[0].matches = counting  # type: ignore[method-assign]
    app = FastAPI()
    app.include_router(PathFilteredRouter(_orders_router()))
    app.include_router(PathFilteredRouter(router))
    with TestClient(app) as test_client:
        assert test_client.get("/api/orders/1").status_code == 200
        assert test_client.get("/api/events/1/tickets/2").status_code == 200
    assert walked and all(path.startswith("/api/events/") for path in walked)


_segment = st.text(alphabet="abcdefghij0123456789-_.{}", min_size=0, max_size=6)


def _app(*, filtered: bool) -> FastAPI:
    app = FastAPI()
    for router in (_orders_router(), _events_router()):
        app.include_router(PathFilteredRouter(router) if filtered else router)
    return app


_PLAIN = TestClient(_app(filtered=False))
_FILTERED = TestClient(_app(filtered=True))


@given(st.lists(_segment, min_size=1, max_size=5), st.sampled_from(["GET", "POST"]))
@example(["", "", "", ""], "GET")
@example(["api", "orders", ""], "GET")
def test_the_filter_never_hides_a_path_fastapi_would_match(
    segments: list[str], method: str
) -> None:
    """Whatever the path, the filtered app answers exactly as the unfiltered one."""
    # Absolute, so that a path with empty segments ("//x") is a path, not an authority.
    url = "http://testserver/" + "/".join(segments)
    expected = _PLAIN.request(method, url, follow_redirects=False)
    got = _FILTERED.request(method, url, follow_redirects=False)
    assert (got.status_code, got.content) == (expected.status_code, expected.content)
