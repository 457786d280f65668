"""Kiosk authentication on HTTP: a failed Basic login is challenged with Basic."""

from __future__ import annotations

import pytest

from tests.server.fleet.helpers import FleetWorld

SNAPSHOT = "/api/v1/fleet/lists/allowlist/snapshot"


@pytest.mark.parametrize(
    "auth", [None, ("kiosk-nobody", "secret"), "wrong password"], ids=["none", "unknown", "wrong"]
)
def test_a_failed_kiosk_login_is_challenged_with_basic(
    world: FleetWorld, auth: tuple[str, str] | str | None
) -> None:
    answer = world.enroll("north-1")
    if auth == "wrong password":
        auth = (answer["mqtt"]["username"], "not-the-password")

    response = world.client.get(SNAPSHOT, auth=auth if isinstance(auth, tuple) else None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.json()["error"]["code"] == "fleet.kiosk_credentials_invalid"


def test_the_right_kiosk_login_passes(world: FleetWorld) -> None:
    answer = world.enroll("north-1")
    auth = (answer["mqtt"]["username"], answer["mqtt"]["password"])

    response = world.client.get(SNAPSHOT, auth=auth)

    assert response.status_code == 404  # authenticated; the list is empty at version 0
    assert "WWW-Authenticate" not in response.headers
