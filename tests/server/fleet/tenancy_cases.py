"""Merchant-owned fleet endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.server.catalog.builders import on_sale
from tests.server.tenancy import OwnedEndpoint, TenancyWorld

NOW = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def _gate(world: TenancyWorld) -> dict[str, Any]:
    made = on_sale(world.client, world.victim, NOW)
    response = world.client.post(
        "/api/v1/fleet/gates",
        json={"venue_id": made.venue_id, "key": "north-1", "name": "North", "zone_ids": []},
        headers=world.victim.owner.headers,
    )
    assert response.status_code == 201, response.text
    return {"gate_id": response.json()["id"]}


CASES = [
    OwnedEndpoint("read gate", "GET", "/api/v1/fleet/gates/{gate_id}", _gate),
    OwnedEndpoint(
        "issue enrollment token", "POST", "/api/v1/fleet/gates/{gate_id}/enrollment-token", _gate
    ),
    OwnedEndpoint("revoke gate", "POST", "/api/v1/fleet/gates/{gate_id}/revoke", _gate),
    OwnedEndpoint("list gate commands", "GET", "/api/v1/fleet/gates/{gate_id}/commands", _gate),
    OwnedEndpoint("gate scans", "GET", "/api/v1/fleet/scans?gate_id={gate_id}", _gate),
]
