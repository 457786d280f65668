"""Merchant-owned payments endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.server.catalog.builders import on_sale
from tests.server.tenancy import OwnedEndpoint, TenancyWorld

NOW = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def _unpaid_order(world: TenancyWorld) -> dict[str, Any]:
    made = on_sale(world.client, world.victim, NOW)
    visitor = world.accounts.visitor()
    response = world.client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    )
    return {"order_id": response.json()[0]["id"]}


def _payment(world: TenancyWorld) -> dict[str, Any]:
    order_id = _unpaid_order(world)["order_id"]
    response = world.client.post(
        "/api/merchant/payments/cash",
        json={"order_ids": [order_id]},
        headers=world.victim.owner.headers,
    )
    return {"payment_id": response.json()["id"]}


CASES = [
    OwnedEndpoint("read payment", "GET", "/api/merchant/payments/{payment_id}", _payment),
]
