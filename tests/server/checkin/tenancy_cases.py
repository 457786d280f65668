"""Merchant-owned check-in endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.accounts.models import MerchantRole
from tests.server.tenancy import OwnedEndpoint, TenancyWorld
from tests.server.tickets.orders import issue


def _ticket(world: TenancyWorld) -> Mapping[str, Any]:
    (ticket,) = issue(world.accounts.database, world.victim.merchant_id, now=world.accounts.clock())
    return {"ticket_id": ticket.id, "code": ticket.code}


def _record(world: TenancyWorld) -> Mapping[str, Any]:
    values = _ticket(world)
    response = world.client.post(
        "/api/merchant/checkin/code",
        json={"code": values["code"]},
        headers=world.victim.owner.headers,
    )
    return {"record_id": response.json()["record_id"]}


def _checker(world: TenancyWorld) -> Mapping[str, Any]:
    return {"user_id": world.accounts.staff(world.victim, MerchantRole.CHECKER).user_id}


CASES = [
    OwnedEndpoint("check-in record", "GET", "/api/merchant/checkin/records/{record_id}", _record),
    OwnedEndpoint(
        "check in chosen ticket",
        "POST",
        "/api/merchant/checkin/tickets",
        _ticket,
        body={"ticket_ids": [1]},
    ),
    OwnedEndpoint(
        "holder's tickets by code",
        "GET",
        "/api/merchant/checkin/backoffice/holder?code={code}",
        _ticket,
    ),
    OwnedEndpoint(
        "checker's events", "GET", "/api/merchant/checkin/checkers/{user_id}/events", _checker
    ),
    OwnedEndpoint(
        "restrict checker's events",
        "PUT",
        "/api/merchant/checkin/checkers/{user_id}/events",
        _checker,
        body={"event_ids": [1]},
    ),
]
