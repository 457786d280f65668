"""Merchant-owned accounts endpoints for ``tests/server/test_tenancy.py``."""

from __future__ import annotations

from typing import Any

from server.accounts.models import MerchantRole
from tests.server.tenancy import OwnedEndpoint, TenancyWorld


def _checker_membership(world: TenancyWorld) -> dict[str, Any]:
    checker = world.accounts.staff(world.victim, MerchantRole.CHECKER)
    staff = world.client.get("/api/merchant/staff", headers=world.victim.owner.headers).json()
    membership_id = next(item["id"] for item in staff if item["user_id"] == checker.user_id)
    return {"membership_id": membership_id}


CASES = [
    OwnedEndpoint("read staff", "GET", "/api/merchant/staff/{membership_id}", _checker_membership),
    OwnedEndpoint(
        "change staff role",
        "PATCH",
        "/api/merchant/staff/{membership_id}",
        _checker_membership,
        body={"role": "gate_operator"},
    ),
    OwnedEndpoint(
        "unbind staff", "DELETE", "/api/merchant/staff/{membership_id}", _checker_membership
    ),
]
