"""Helpers for fleet tests: register a gate and enroll it through the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from server.fleet.settings import FleetSettings
from tests.server.catalog.builders import OnSale


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
