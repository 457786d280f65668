"""Merchant-owned sales endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.server.catalog.builders import on_sale
from tests.server.tenancy import OwnedEndpoint, TenancyWorld

NOW = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def _order(world: TenancyWorld, **ticket_type: Any) -> dict[str, Any]:
    made = on_sale(world.client, world.victim, NOW, **ticket_type)
    visitor = world.accounts.visitor()
    response = world.client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    )
    return {"order_id": response.json()[0]["id"]}


def _awaiting_approval(world: TenancyWorld) -> dict[str, Any]:
    return _order(world, approval_required=True)


def _paid(world: TenancyWorld) -> dict[str, Any]:
    return _order(world, price_fen=0)


def _refund_request(world: TenancyWorld) -> dict[str, Any]:
    made = on_sale(world.client, world.victim, NOW, price_fen=0)
    visitor = world.accounts.visitor()
    order = world.client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    ).json()[0]
    request = world.client.post(
        f"/api/sales/orders/{order['id']}/refund-requests",
        json={"reason": "test"},
        headers=visitor.headers,
    )
    assert request.status_code == 201, request.text
    return {"request_id": request.json()["id"]}


CASES = [
    OwnedEndpoint("read order", "GET", "/api/merchant/orders/{order_id}", _order),
    OwnedEndpoint(
        "approve order", "POST", "/api/merchant/orders/{order_id}/approve", _awaiting_approval, {}
    ),
    OwnedEndpoint(
        "reject order", "POST", "/api/merchant/orders/{order_id}/reject", _awaiting_approval, {}
    ),
    OwnedEndpoint(
        "refund order",
        "POST",
        "/api/merchant/orders/{order_id}/refund",
        _paid,
        {"reason": "test"},
    ),
    OwnedEndpoint(
        "read refund request", "GET", "/api/merchant/refund-requests/{request_id}", _refund_request
    ),
    OwnedEndpoint(
        "approve refund request",
        "POST",
        "/api/merchant/refund-requests/{request_id}/approve",
        _refund_request,
        {},
    ),
    OwnedEndpoint(
        "reject refund request",
        "POST",
        "/api/merchant/refund-requests/{request_id}/reject",
        _refund_request,
        {},
    ),
]
