"""The MQTT bridge against a real broker and a real database, with a fake kiosk (plain paho).

Each test uses its own topic root, so tests sharing the session's broker never see each
other's messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from protocol import messages
from protocol.allowlist import ListDigest, hash_code
from protocol.messages import ListAnnounce, ListUpdate, ScanAck
from server.checkin.models import CheckinRecord
from server.db import Database
from server.fleet.bridge import FleetBridge
from server.fleet.keyrings import gate_keyring
from server.fleet.models import GateScan
from server.fleet.settings import FleetSettings
from server.signals import tickets_issued, tickets_revoked
from tests.server.catalog.builders import create_ticket_type
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import FakeKiosk, wait_until
from tests.server.helpers import AccountFactory


@pytest.fixture
def fleet_settings(mqtt_url: str, tmp_path: Path) -> FleetSettings:
    return FleetSettings(
        mqtt_bridge=True,
        mqtt_url=mqtt_url,
        mqtt_root=f"t{uuid.uuid4().hex[:10]}",
        mqtt_client_id=f"server-{uuid.uuid4().hex[:10]}",
        mqtt_share_group=f"g{uuid.uuid4().hex[:8]}",
        list_sweep_interval=0.2,  # type: ignore[arg-type]
    )


@pytest.fixture
def bridge(app: FastAPI, client: TestClient) -> FleetBridge:
    running: FleetBridge = app.state.fleet_bridge
    assert running.wait_connected(20)
    return running


@pytest.fixture
def kiosks(world: FleetWorld, mqtt_url: str) -> Iterator[list[FakeKiosk]]:
    made: list[FakeKiosk] = []
    yield made
    for kiosk in made:
        kiosk.close()


def _kiosk(
    world: FleetWorld, kiosks: list[FakeKiosk], mqtt_url: str, key: str, **options: Any
) -> FakeKiosk:
    answer = world.enroll(key)
    root = world.fleet_settings.mqtt_root
    kiosk = FakeKiosk(mqtt_url, site=answer["site"], gate=key, root=root, **options)
    kiosks.append(kiosk)
    return kiosk


def _stored_scan_ids(database: Database) -> list[str]:
    with database.sessions() as session:
        return list(session.scalars(select(GateScan.scan_id)).all())


def test_scans_are_stored_once_and_acked_after_commit(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    acked_before_stored: list[str] = []

    def check_ack(kind: str, message: messages.Message) -> None:
        if isinstance(message, ScanAck):
            stored = set(_stored_scan_ids(database))
            acked_before_stored.extend(i for i in message.scan_ids if i not in stored)

    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1", on_message=check_ack)
    scans = [kiosk.scan() for _ in range(30)]
    for scan in scans:
        kiosk.send(scan)
    for scan in scans[:10]:  # re-sent after a lost ack
        kiosk.send(scan)

    wanted = {scan.scan_id for scan in scans}
    wait_until(lambda: wanted <= kiosk.acked_ids(), "acks for every scan")
    wait_until(lambda: max(a.watermark for a in kiosk.messages_of("acks")) == 30, "watermark 30")

    stored = _stored_scan_ids(database)
    assert sorted(stored) == sorted(wanted)
    assert acked_before_stored == []
    # The re-sends may come in a batch after the one that acknowledged their originals.
    wait_until(
        lambda: bridge.metrics.count("scans_duplicate") == 10, "the re-sends counted as duplicates"
    )
    assert bridge.metrics.count("scans_stored") == 30


def test_scan_rows_keep_original_time_offline_flag_and_rejections(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1")
    offline_reject = kiosk.scan(decision="rejected", reason="already_used", offline=True)
    kiosk.send(offline_reject)
    wait_until(lambda: offline_reject.scan_id in kiosk.acked_ids(), "ack")

    rows = world.client.get("/api/v1/fleet/scans", headers=world.headers).json()

    assert len(rows) == 1
    assert rows[0]["offline"] is True
    assert rows[0]["reason"] == "already_used"
    assert rows[0]["scanned_at"].startswith("2025-06-01T09:59:59.7")

    def logged() -> list[CheckinRecord]:
        with database.sessions() as session:
            found = select(CheckinRecord).where(CheckinRecord.scan_id == offline_reject.scan_id)
            return list(session.scalars(found))

    wait_until(lambda: len(logged()) == 1, "the rejection in the check-in log")
    (record,) = logged()
    assert record.result.value == "rejected"
    assert record.reason == "already_used"
    assert record.offline is True
    assert record.conflict is False


def test_a_scan_stamped_after_its_receipt_is_counted_and_logged_at_its_receipt(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    """A gate whose clock runs ahead: the gate's scan row keeps its stamp, the bridge counts it
    (``scans_clock_ahead``), and the check-in log takes the time the server received it."""
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1")
    server_ms = int(bridge.clock().timestamp() * 1000)
    days_ahead = kiosk.scan(
        decision="rejected", reason="already_used", scanned_at=server_ms + 3 * 86_400_000
    )
    on_time = kiosk.scan(decision="rejected", reason="already_used", scanned_at=server_ms - 500)
    kiosk.send(days_ahead)
    kiosk.send(on_time)
    wait_until(lambda: {days_ahead.scan_id, on_time.scan_id} <= kiosk.acked_ids(), "acks")
    wait_until(lambda: bridge.metrics.count("scans_clock_ahead") == 1, "the scan ahead counted")

    def logged() -> dict[str | None, CheckinRecord]:
        with database.sessions() as session:
            return {record.scan_id: record for record in session.scalars(select(CheckinRecord))}

    wait_until(lambda: len(logged()) == 2, "both scans in the check-in log")
    with database.sessions() as session:
        rows = session.execute(select(GateScan.scan_id, GateScan.scanned_at))
        stamps = {scan_id: scanned_at for scan_id, scanned_at in rows}
        received = session.scalar(
            select(GateScan.received_at).where(GateScan.scan_id == days_ahead.scan_id)
        )
    records = logged()
    assert int(stamps[days_ahead.scan_id].timestamp() * 1000) == days_ahead.scanned_at
    assert records[days_ahead.scan_id].scanned_at == received
    assert int(records[on_time.scan_id].scanned_at.timestamp() * 1000) == on_time.scanned_at


def test_status_and_last_will_reach_the_registry(
    world: FleetWorld, bridge: FleetBridge, kiosks: list[FakeKiosk], mqtt_url: str
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1", keepalive=1)
    gate_id = world.client.get("/api/v1/fleet/gates", headers=world.headers).json()[0]["id"]

    def gate() -> dict[str, object]:
        response = world.client.get(f"/api/v1/fleet/gates/{gate_id}", headers=world.headers)
        body: dict[str, object] = response.json()
        return body

    kiosk.send(kiosk.status("online"))
    wait_until(lambda: gate()["state"] == "online", "online status")
    assert gate()["outbox_depth"] == 7
    assert gate()["allowlist_version"] == 3
    assert gate()["last_seen_at"] is not None

    kiosk.die()
    kiosks.remove(kiosk)
    wait_until(lambda: gate()["state"] == "lost", "the last will")


def test_bad_messages_are_counted_and_the_bridge_keeps_going(
    world: FleetWorld, bridge: FleetBridge, kiosks: list[FakeKiosk], mqtt_url: str
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1")
    scans_topic = kiosk.topics.scans("north-1")
    kiosk.publish_raw(scans_topic, b"\xff\xfe not utf-8")
    kiosk.publish_raw(scans_topic, b'{"v": 1, "kind": "scan"}')
    kiosk.publish_raw(scans_topic, b"[1, 2, 3]")
    kiosk.send(kiosk.scan(), topic_gate="south-9")  # payload names north-1, topic south-9
    stranger = FakeKiosk(mqtt_url, site=kiosk.site, gate="ghost", root=kiosk.root)
    kiosks.append(stranger)
    stranger.send(stranger.scan())  # a gate the registry does not know
    good = kiosk.scan()
    kiosk.send(good)

    wait_until(lambda: good.scan_id in kiosk.acked_ids(), "the good scan's ack")
    wait_until(lambda: bridge.metrics.count("unknown_gate") == 1, "unknown gate counted")
    counts = bridge.metrics.snapshot()
    assert counts["malformed"] == 3
    assert counts["topic_mismatch"] == 1
    assert stranger.messages_of("acks") == []


def test_commands_round_trip_with_results(
    world: FleetWorld, bridge: FleetBridge, kiosks: list[FakeKiosk], mqtt_url: str
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1", answer_commands=True)
    gate_id = world.client.get("/api/v1/fleet/gates", headers=world.headers).json()[0]["id"]

    sent = world.client.post(
        f"/api/v1/fleet/gates/{gate_id}/commands",
        json={"name": "open_once", "args": {"direction": "in"}},
        headers=world.headers,
    )
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["command_id"]

    def answered() -> bool:
        listed = world.client.get(
            f"/api/v1/fleet/gates/{gate_id}/commands", headers=world.headers
        ).json()
        return bool(listed[0]["answered_at"])

    wait_until(answered, "the command result")
    listed = world.client.get(f"/api/v1/fleet/gates/{gate_id}/commands", headers=world.headers)
    record = listed.json()[0]
    assert record["command_id"] == command_id
    assert record["ok"] is True
    assert record["detail"] == {"done": "open_once"}
    received = kiosk.messages_of("commands")
    assert [c.command_id for c in received] == [command_id]
    assert received[0].expires_at is not None


def test_an_operators_set_keys_sends_the_merchants_keyring_not_its_own(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1")
    gate_id = world.client.get("/api/v1/fleet/gates", headers=world.headers).json()[0]["id"]
    planted = {"9": "MCowBQYDK2VwAyEA" + "A" * 44}

    sent = world.client.post(
        f"/api/v1/fleet/gates/{gate_id}/commands",
        json={"name": "set_keys", "args": {"keys": planted}},
        headers=world.headers,
    )

    assert sent.status_code == 202, sent.text
    wait_until(lambda: len(kiosk.messages_of("commands")) == 1, "the set_keys command")
    with database.sessions() as session:
        expected = gate_keyring(session, world.shop.merchant.merchant_id)
    (received,) = kiosk.messages_of("commands")
    assert received.args == {"keys": expected}
    assert expected and "9" not in expected


def test_bad_command_arguments_are_refused(world: FleetWorld, bridge: FleetBridge) -> None:
    gate = world.enroll("north-1")

    response = world.client.post(
        f"/api/v1/fleet/gates/{gate['gate_id']}/commands",
        json={"name": "set_mode", "args": {"mode": "party"}},
        headers=world.headers,
    )

    assert response.status_code == 422


def _ticket(ticket_id: int, world: FleetWorld, code: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=ticket_id,
        merchant_id=world.shop.merchant.merchant_id,
        event_id=world.shop.event_id,
        ticket_type_id=world.shop.ticket_type_id,
        code=code,
        entries_allowed=1,
        valid_from=None,
        valid_until=None,
        status="valid",
    )


def test_issued_and_revoked_tickets_become_list_deltas_and_announces(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1")
    other = world.enroll("north-2")
    salt = other["code_salt"]
    tickets = [_ticket(9001, world, "123456789012"), _ticket(9002, world, "210987654321")]

    with database.sessions.begin() as session:
        tickets_issued.send(session, tickets)
    with database.sessions.begin() as session:
        tickets_revoked.send(session, tickets[:1])

    def updates() -> list[ListUpdate]:
        return kiosk.messages_of("site_lists")

    wait_until(lambda: len(updates()) == 3, "three deltas")
    allow = [u for u in updates() if u.list == "allowlist"]
    revoked = [u for u in updates() if u.list == "revocations"]
    hashes = [hash_code(t.code, salt) for t in tickets]
    assert [(u.from_version, u.to_version) for u in allow] == [(0, 1), (1, 2)]
    assert sorted(allow[0].add) == sorted(hashes) and allow[1].remove == [hashes[0]]
    assert allow[1].digest == ListDigest.of([hashes[1]]).hex()
    assert allow[0].meta is not None
    assert allow[0].meta[hashes[0]] == {
        "ticket_id": 9001,
        "event_id": world.shop.event_id,
        "zone": world.shop.ticket_type_id,
        "entries": 1,
    }
    assert revoked[0].add == ["9001"]
    wait_until(
        lambda: any(
            a.allowlist_version == 2 and a.revocations_version == 1
            for a in kiosk.messages_of("announce")
        ),
        "the announce",
    )
    announce: ListAnnounce = kiosk.messages_of("announce")[-1]
    assert announce.allowlist_digest == allow[1].digest

    auth = (other["mqtt"]["username"], other["mqtt"]["password"])
    snapshot = world.client.get("/api/v1/fleet/lists/allowlist/snapshot", auth=auth).json()
    assert snapshot["to_version"] == 2 and snapshot["add"] == [hashes[1]]
    assert snapshot["digest"] == allow[1].digest
    assert (
        world.client.get("/api/v1/fleet/lists/allowlist/snapshot?chunk=1", auth=auth).status_code
        == 404
    )


def test_scan_count_is_exact_with_many_gates(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    gates = [_kiosk(world, kiosks, mqtt_url, f"g-{n}") for n in range(5)]
    for _ in range(40):
        for kiosk in gates:
            kiosk.send(kiosk.scan())

    wait_until(lambda: all(len(k.acked_ids()) == 40 for k in gates), "every gate acked")
    with database.sessions() as session:
        total = session.scalar(select(func.count()).select_from(GateScan))
    assert total == 200


def test_a_sold_ticket_reaches_the_gate_list_and_its_gate_admissions_reach_checkin(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    accounts: AccountFactory,
    kiosks: list[FakeKiosk],
    mqtt_url: str,
) -> None:
    kiosk = _kiosk(world, kiosks, mqtt_url, "north-1")
    free = create_ticket_type(
        world.client,
        world.shop.merchant,
        world.shop.event_id,
        price_fen=0,
        entries_allowed=1,
        zone_ids=[world.shop.zone_id],
    )
    bought = world.client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": free["id"]}]},
        headers=accounts.visitor().headers,
    )
    assert bought.status_code in {200, 201}, bought.text
    wait_until(lambda: len(kiosk.messages_of("site_lists")) == 1, "the allowlist delta")
    (delta,) = kiosk.messages_of("site_lists")
    ((_, facts),) = (delta.meta or {}).items()
    ticket_id = facts["ticket_id"]

    first = kiosk.scan(ticket_id=ticket_id, event_id=world.shop.event_id, entry_no=1)
    again = kiosk.scan(ticket_id=ticket_id, event_id=world.shop.event_id, entry_no=1, offline=True)
    kiosk.send(first)
    kiosk.send(again)
    wait_until(lambda: {first.scan_id, again.scan_id} <= kiosk.acked_ids(), "both acks")

    def records() -> dict[str | None, CheckinRecord]:
        with database.sessions() as session:
            rows = session.scalars(
                select(CheckinRecord).where(CheckinRecord.ticket_id == ticket_id)
            ).all()
            return {record.scan_id: record for record in rows}

    wait_until(lambda: len(records()) == 2, "both admissions in the check-in log")
    by_scan = records()
    assert set(by_scan) == {first.scan_id, again.scan_id}
    assert by_scan[first.scan_id].conflict is False
    assert by_scan[again.scan_id].conflict is True
