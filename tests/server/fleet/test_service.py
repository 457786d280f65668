"""Gate registry and enrollment through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

from protocol.messages import ListUpdate
from server.clock import ManualClock
from server.fleet.settings import FleetSettings
from tests.server.fleet.helpers import FleetWorld
from tests.server.helpers import AccountFactory, error_code


def test_enrollment_answers_the_kiosk_contract(world: FleetWorld) -> None:
    answer = world.enroll("north-1")

    assert set(answer) >= {"site", "gate", "mqtt", "keys", "code_salt", "policy", "lists"}
    assert answer["gate"] == "north-1"
    assert answer["mqtt"]["username"] == f"kiosk-{answer['site']}-north-1"
    assert answer["mqtt"]["client_id"] == answer["mqtt"]["username"]
    assert answer["mqtt"]["url"] == "mqtt://127.0.0.1:1883"
    assert len(answer["mqtt"]["password"]) >= 24
    assert answer["keys"] and all(key.isdigit() for key in answer["keys"])
    assert answer["code_salt"]
    assert answer["policy"] == {
        "event_ids": [world.shop.event_id],
        "zones": [world.shop.ticket_type_id],
        "direction": "in",
    }
    for chunk in answer["lists"]:
        ListUpdate.from_dict(chunk)


def test_the_stored_hash_checks_the_handed_out_password(world: FleetWorld) -> None:
    answer = world.enroll()
    gate = world.client.get(f"/api/v1/fleet/gates/{answer['gate_id']}", headers=world.headers)

    assert gate.json()["enrollment"] == "enrolled"
    snapshot = world.client.get(
        "/api/v1/fleet/lists/allowlist/snapshot",
        auth=(answer["mqtt"]["username"], answer["mqtt"]["password"]),
    )
    # No ticket sold yet: the list is at version 0, so there is no snapshot (404), not a 401.
    assert snapshot.status_code == 404
    wrong = world.client.get(
        "/api/v1/fleet/lists/allowlist/snapshot", auth=(answer["mqtt"]["username"], "nope")
    )
    assert wrong.status_code == 401


def test_a_token_works_once(world: FleetWorld) -> None:
    gate = world.gate()
    token = world.token(gate["id"])

    first = world.client.post("/api/v1/fleet/enroll", json={"token": token})
    second = world.client.post("/api/v1/fleet/enroll", json={"token": token})

    assert first.status_code == 200
    assert second.status_code == 401
    assert error_code(second) == "fleet.token_invalid"


def test_an_expired_token_is_refused(world: FleetWorld, clock: ManualClock) -> None:
    gate = world.gate()
    token = world.token(gate["id"])
    clock.advance(world.fleet_settings.enrollment_token_ttl + timedelta(seconds=1))

    response = world.client.post("/api/v1/fleet/enroll", json={"token": token})

    assert error_code(response) == "fleet.token_expired"


def test_a_new_token_voids_the_previous_one(world: FleetWorld) -> None:
    gate = world.gate()
    old = world.token(gate["id"])
    new = world.token(gate["id"])

    assert world.client.post("/api/v1/fleet/enroll", json={"token": old}).status_code == 401
    assert world.client.post("/api/v1/fleet/enroll", json={"token": new}).status_code == 200


def test_token_answer_carries_a_qr_png(world: FleetWorld) -> None:
    gate = world.gate()
    response = world.client.post(
        f"/api/v1/fleet/gates/{gate['id']}/enrollment-token", headers=world.headers
    )

    assert response.json()["qr_png"].startswith("data:image/png;base64,")


def test_re_enrolling_replaces_the_password(world: FleetWorld) -> None:
    first = world.enroll()
    response = world.client.post(
        "/api/v1/fleet/enroll", json={"token": world.token(first["gate_id"])}
    )
    second = response.json()

    assert second["mqtt"]["username"] == first["mqtt"]["username"]
    old_auth = (first["mqtt"]["username"], first["mqtt"]["password"])
    new_auth = (second["mqtt"]["username"], second["mqtt"]["password"])
    url = "/api/v1/fleet/lists/allowlist/snapshot"
    assert world.client.get(url, auth=old_auth).status_code == 401
    assert world.client.get(url, auth=new_auth).status_code == 404


def test_a_revoked_gate_loses_its_credentials_and_tokens(world: FleetWorld) -> None:
    answer = world.enroll()
    gate_id = answer["gate_id"]

    revoked = world.client.post(f"/api/v1/fleet/gates/{gate_id}/revoke", headers=world.headers)
    token = world.client.post(
        f"/api/v1/fleet/gates/{gate_id}/enrollment-token", headers=world.headers
    )

    assert revoked.json()["enrollment"] == "revoked"
    auth = (answer["mqtt"]["username"], answer["mqtt"]["password"])
    assert world.client.get("/api/v1/fleet/lists/allowlist/snapshot", auth=auth).status_code == 401
    assert error_code(token) == "fleet.gate_revoked"


def test_gate_keys_are_topic_ids_and_unique_per_venue(world: FleetWorld) -> None:
    world.gate("east")
    bad = world.client.post(
        "/api/v1/fleet/gates",
        json={"venue_id": world.shop.venue_id, "key": "East/1", "name": "x"},
        headers=world.headers,
    )
    taken = world.client.post(
        "/api/v1/fleet/gates",
        json={"venue_id": world.shop.venue_id, "key": "east", "name": "x"},
        headers=world.headers,
    )

    assert error_code(bad) == "fleet.gate_key_invalid"
    assert error_code(taken) == "fleet.gate_key_taken"


def test_a_gate_without_zones_accepts_every_type_of_the_venue(world: FleetWorld) -> None:
    answer = world.enroll("any", zone_ids=[], direction="both")

    assert answer["policy"]["zones"] == [world.shop.ticket_type_id]
    assert answer["policy"]["direction"] == "both"


def test_gate_operators_see_only_their_merchants_gates(
    world: FleetWorld, accounts: AccountFactory
) -> None:
    gate = world.gate()
    other = accounts.merchant("Other")

    mine = world.client.get("/api/v1/fleet/gates", headers=world.headers)
    theirs = world.client.get("/api/v1/fleet/gates", headers=other.owner.headers)
    peek = world.client.get(f"/api/v1/fleet/gates/{gate['id']}", headers=other.owner.headers)

    assert [g["key"] for g in mine.json()] == ["north-1"]
    assert theirs.json() == []
    assert peek.status_code == 404


def test_settings_hand_kiosks_the_public_broker_url() -> None:
    settings = FleetSettings(mqtt_url="mqtt://admit-server:secret@10.0.0.5:1884")

    assert settings.kiosk_broker_url == "mqtt://10.0.0.5:1884"
    assert settings.broker_credentials == ("admit-server", "secret")
