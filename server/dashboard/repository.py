"""Dashboard queries: the few gate columns the health view needs (polled, so kept narrow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.catalog.models import Venue
from server.fleet.models import Gate


@dataclass(frozen=True)
class GateTelemetryRow:
    gate_id: int
    site: str
    key: str
    name: str
    state: str
    telemetry: dict[str, Any] | None
    telemetry_at: datetime | None


def gate_telemetry(session: Session, merchant_id: int) -> list[GateTelemetryRow]:
    """Every gate of the merchant with its latest telemetry, in the order of the gate list."""
    query = (
        select(
            Gate.id,
            Venue.slug,
            Gate.key,
            Gate.name,
            Gate.state,
            Gate.telemetry,
            Gate.telemetry_at,
        )
        .join(Venue, Venue.id == Gate.venue_id)
        .where(Gate.merchant_id == merchant_id)
        .order_by(Gate.venue_id, Gate.key)
    )
    return [GateTelemetryRow(*row) for row in session.execute(query)]
