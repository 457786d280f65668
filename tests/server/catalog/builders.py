"""Builders for server tests that need something on sale: a venue, an event, a ticket type.

Shared by the catalog, sales and payments tests; everything goes through the HTTP API as the
merchant's owner, so the builders exercise the same paths a merchant would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.server.helpers import MerchantAccount

_slugs = itertools.count(1)


@dataclass(frozen=True)
class OnSale:
    """A merchant with one event; ``ticket_type`` is the created ticket type's JSON."""

    merchant: MerchantAccount
    venue_id: int
    zone_id: int
    event_id: int
    ticket_type: dict[str, Any]

    @property
    def ticket_type_id(self) -> int:
        type_id: int = self.ticket_type["id"]
        return type_id


def create_event(client: TestClient, merchant: MerchantAccount, now: datetime) -> dict[str, int]:
    headers = merchant.owner.headers
    venue = client.post(
        "/api/merchant/venues",
        json={"slug": f"site-{next(_slugs)}-{merchant.merchant_id}", "name": "Garden"},
        headers=headers,
    )
    assert venue.status_code == 201, venue.text
    venue_id = venue.json()["id"]
    zone = client.post(
        f"/api/merchant/venues/{venue_id}/zones", json={"name": "Main"}, headers=headers
    )
    assert zone.status_code == 201, zone.text
    event = client.post(
        "/api/merchant/events",
        json={
            "venue_id": venue_id,
            "name": "Spring fair",
            "starts_at": (now + timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=5)).isoformat(),
        },
        headers=headers,
    )
    assert event.status_code == 201, event.text
    return {"venue_id": venue_id, "zone_id": zone.json()["id"], "event_id": event.json()["id"]}


def create_ticket_type(
    client: TestClient, merchant: MerchantAccount, event_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Adult", "price_fen": 8800, "stock": 100, **fields}
    response = client.post(
        f"/api/merchant/events/{event_id}/ticket-types", json=body, headers=merchant.owner.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def on_sale(client: TestClient, merchant: MerchantAccount, now: datetime, **fields: Any) -> OnSale:
    ids = create_event(client, merchant, now)
    fields.setdefault("zone_ids", [ids["zone_id"]])
    ticket_type = create_ticket_type(client, merchant, ids["event_id"], **fields)
    return OnSale(merchant, ids["venue_id"], ids["zone_id"], ids["event_id"], ticket_type)
