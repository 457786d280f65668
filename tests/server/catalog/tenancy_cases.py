"""Merchant-owned catalog endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.server.catalog.builders import on_sale
from tests.server.tenancy import OwnedEndpoint, TenancyWorld

NOW = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def _catalog(world: TenancyWorld) -> dict[str, Any]:
    made = on_sale(world.client, world.victim, NOW)
    return {
        "venue_id": made.venue_id,
        "zone_id": made.zone_id,
        "event_id": made.event_id,
        "ticket_type_id": made.ticket_type_id,
    }


def _empty_venue(world: TenancyWorld) -> dict[str, Any]:
    response = world.client.post(
        "/api/merchant/venues",
        json={"slug": f"empty-{world.victim.merchant_id}", "name": "Empty"},
        headers=world.victim.owner.headers,
    )
    return {"venue_id": response.json()["id"]}


CASES = [
    OwnedEndpoint("read venue", "GET", "/api/merchant/venues/{venue_id}", _catalog),
    OwnedEndpoint(
        "edit venue", "PATCH", "/api/merchant/venues/{venue_id}", _catalog, body={"name": "x"}
    ),
    OwnedEndpoint("delete venue", "DELETE", "/api/merchant/venues/{venue_id}", _empty_venue),
    OwnedEndpoint(
        "add zone", "POST", "/api/merchant/venues/{venue_id}/zones", _catalog, body={"name": "z"}
    ),
    OwnedEndpoint("read zone", "GET", "/api/merchant/zones/{zone_id}", _catalog),
    OwnedEndpoint(
        "rename zone", "PATCH", "/api/merchant/zones/{zone_id}", _catalog, body={"name": "z2"}
    ),
    OwnedEndpoint("delete zone", "DELETE", "/api/merchant/zones/{zone_id}", _catalog),
    OwnedEndpoint("read event", "GET", "/api/merchant/events/{event_id}", _catalog),
    OwnedEndpoint(
        "edit event", "PATCH", "/api/merchant/events/{event_id}", _catalog, body={"name": "x"}
    ),
    OwnedEndpoint("delete event", "DELETE", "/api/merchant/events/{event_id}", _catalog),
    OwnedEndpoint(
        "list ticket types", "GET", "/api/merchant/events/{event_id}/ticket-types", _catalog
    ),
    OwnedEndpoint(
        "add ticket type",
        "POST",
        "/api/merchant/events/{event_id}/ticket-types",
        _catalog,
        body={"name": "Child", "price_fen": 100, "stock": 1},
    ),
    OwnedEndpoint(
        "read ticket type", "GET", "/api/merchant/ticket-types/{ticket_type_id}", _catalog
    ),
    OwnedEndpoint(
        "edit ticket type",
        "PATCH",
        "/api/merchant/ticket-types/{ticket_type_id}",
        _catalog,
        body={"stock": 5},
    ),
    OwnedEndpoint(
        "delete ticket type", "DELETE", "/api/merchant/ticket-types/{ticket_type_id}", _catalog
    ),
]
