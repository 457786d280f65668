"""One merchant's owner gets 404 for every object of another merchant, on every registered
merchant-owned endpoint (``tests/server/<pkg>/tenancy_cases.py``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.server.helpers import AccountFactory, error_code
from tests.server.tenancy import OwnedEndpoint, TenancyWorld, collect_cases

CASES = collect_cases()


def test_the_registry_has_cases_from_accounts() -> None:
    assert any(case.path.startswith("/api/merchant/staff") for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_another_merchants_object_is_not_found(
    case: OwnedEndpoint, client: TestClient, accounts: AccountFactory
) -> None:
    world = TenancyWorld(
        client=client,
        accounts=accounts,
        victim=accounts.merchant("Victim"),
        intruder=accounts.merchant("Intruder"),
    )
    path = case.path.format(**case.create(world))

    intruded = client.request(
        case.method, path, json=case.body, headers=world.intruder.owner.headers
    )
    assert intruded.status_code == 404, intruded.text
    assert error_code(intruded).endswith("not_found")

    owned = client.request(case.method, path, json=case.body, headers=world.victim.owner.headers)
    assert owned.status_code != 404, f"the case's own merchant cannot reach {path}: {owned.text}"
