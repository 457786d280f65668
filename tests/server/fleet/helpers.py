"""Helpers for fleet tests: register a gate and enroll it through the HTTP API; buy a ticket and
check it in by staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from server.db import Database
from server.fleet.settings import FleetSettings
from server.tickets.models import Ticket
from tests.server.catalog.builders import OnSale, create_ticket_type
from tests.server.helpers import AccountFactory

STAFF_CHECKIN = "/api/merchant/checkin/tickets"


@dataclass
class FleetWorld:
    client: TestClient
    shop: OnSale
    fleet_settings: FleetSettings

    @property
    def headers(self) -> dict[str, str]:
        return self.shop.merchant.owner.headers

    def gate(self, key: str = "north-1", **fields: Any) -> dict[str, Any]:
        body = {
            "venue_id": self.shop.venue_id,
            "key": key,
            "name": f"Gate {key}",
            "zone_ids": [self.shop.zone_id],
            **fields,
        }
        response = self.client.post("/api/v1/fleet/gates", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def token(self, gate_id: int) -> str:
        response = self.client.post(
            f"/api/v1/fleet/gates/{gate_id}/enrollment-token", headers=self.headers
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def enroll(self, key: str = "north-1", **fields: Any) -> dict[str, Any]:
        """Register and enroll a gate; the enrollment answer plus ``gate_id``."""
        gate = self.gate(key, **fields)
        response = self.client.post("/api/v1/fleet/enroll", json={"token": self.token(gate["id"])})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        answer["gate_id"] = gate["id"]
        return answer


def buy_ticket(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    *,
    entries: int = 1,
    event_id: int | None = None,
) -> int:
    """A paid ticket with ``entries`` entries of the world's event (or another event of its
    merchant); its id."""
    on_world = event_id is None
    free = create_ticket_type(
        world.client,
        world.shop.merchant,
        world.shop.event_id if event_id is None else event_id,
        price_fen=0,
        entries_allowed=entries,
        **({"zone_ids": [world.shop.zone_id]} if on_world else {}),
    )
    bought = world.client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": free["id"]}]},
        headers=accounts.visitor().headers,
    )
    assert bought.status_code in {200, 201}, bought.text
    with database.sessions() as session:
        found = select(Ticket.id).where(Ticket.ticket_type_id == free["id"])
        ticket_id: int = session.scalars(found).one()
    return ticket_id


def staff_check_in(
    world: FleetWorld, headers: dict[str, str], ticket_id: int, **fields: Any
) -> dict[str, Any]:
    """Check a ticket in by staff (a checker's app); the result of that ticket."""
    response = world.client.post(
        STAFF_CHECKIN, json={"ticket_ids": [ticket_id], **fields}, headers=headers
    )
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return dict(result)
