"""Merchant-owned ticket endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.server.tenancy import OwnedEndpoint, TenancyWorld
from tests.server.tickets.orders import issue


def _ticket(world: TenancyWorld) -> Mapping[str, Any]:
    (ticket,) = issue(world.accounts.database, world.victim.merchant_id, now=world.accounts.clock())
    return {"ticket_id": ticket.id, "order_id": ticket.order_id}


CASES = [
    OwnedEndpoint("ticket detail", "GET", "/api/merchant/tickets/{ticket_id}", _ticket),
    OwnedEndpoint("ticket qr png", "GET", "/api/merchant/tickets/{ticket_id}/qr.png", _ticket),
    OwnedEndpoint("ticket qr svg", "GET", "/api/merchant/tickets/{ticket_id}/qr.svg", _ticket),
    OwnedEndpoint("order codes", "GET", "/api/merchant/tickets/orders/{order_id}/codes", _ticket),
    OwnedEndpoint(
        "revoke ticket",
        "POST",
        "/api/merchant/tickets/revoke",
        _ticket,
        body={"ticket_ids": [1], "reason": "stolen"},
    ),
]
