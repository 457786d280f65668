"""One real kiosk against the real server through Mosquitto, from enrollment to an outage.

The server runs under uvicorn on the server tests' database (SQLite, and PostgreSQL when
``ADMIT_TEST_DATABASE_URL`` is set); its MQTT bridge is started by the test so it can be stopped
and restarted. The kiosk is the real program on simulated hardware (synthetic camera, MockFactory
pins), enrolled over HTTP with a one-time token.

1. a valid ticket is admitted at the gate, the server stores the scan and counts the check-in,
   and the kiosk's outbox drains on the server's acknowledgement;
2. a refund through the API revokes the ticket: the revocation reaches the kiosk over MQTT and
   the next scan of it is refused ``revoked``;
3. with the server's bridge stopped the gate keeps scanning (first with its broker link up, then
   as a kiosk with no network at all); after the bridge restarts every scan arrives once, with
   its original time and offline flag.

A second test rotates and retires the merchant's signing key on the server: the new keyring
reaches the kiosk as a ``set_keys`` command, and a ticket re-signed with the new key is admitted.
A third rotates the key while no bridge runs: the gate's status shows the keyring it holds, and
the server sends it the new one. A fourth checks tickets in by staff, before the gate enrolls and
while it is online: the gate refuses both. A fifth checks a ticket in by staff while the gate is
away and its broker session is lost: the gate's status shows what it holds, the server resends
the check-in, and the gate refuses the ticket.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from sqlalchemy import func, select

from kiosk.config import KioskConfig
from kiosk.store import KioskStore
from protocol.messages import keyring_digest
from protocol.topics import STAFF_GATE
from server.app import create_app
from server.checkin.models import CheckinRecord, CheckinSource
from server.clock import utc_now
from server.db import Database
from server.demo import repository
from server.demo.http_server import InProcessServer
from server.demo.kiosks import DemoKiosk, ScanResult, enroll_kiosk
from server.demo.plan import Kind, PlannedScan
from server.demo.seed import DemoSeed, DemoSeeder, SeededTicket, SeedSizes
from server.fleet import metrics
from server.fleet.bridge import FleetBridge, start_bridge
from server.fleet.keyrings import gate_keyring
from server.fleet.models import GateCommand
from server.fleet.settings import FleetSettings
from server.settings import Settings
from server.tickets.models import Ticket
from tests.server import conftest as server_fixtures

# the server tests' database fixtures (SQLite, plus PostgreSQL when configured)
database_url = server_fixtures.database_url
postgres_tables_url = server_fixtures.postgres_tables_url

WAIT = 30.0
OWNER_PASSWORD = "owner-password-1"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class World:
    server: InProcessServer
    database: Database
    fleet_settings: FleetSettings
    seed: DemoSeed
    kiosk_dir: Path
    owner_headers: dict[str, str]

    def stored(self) -> dict[str, repository.StoredScan]:
        with self.database.sessions() as session:
            rows = repository.stored_scans(session, [gate.gate_id for gate in self.seed.gates])
        return {row.scan_id: row for row in rows}

    def stored_rows(self) -> int:
        with self.database.sessions() as session:
            return len(repository.stored_scans(session, [gate.gate_id for gate in self.seed.gates]))

    def checkins(self) -> repository.GateCheckins:
        with self.database.sessions() as session:
            return repository.gate_checkins(session, self.seed.merchant_id)

    def gate_records(self) -> int:
        """Rows the gates' scans wrote to the check-in log (refusals included)."""
        with self.database.sessions() as session:
            found = select(func.count()).where(CheckinRecord.source == CheckinSource.GATE)
            return session.scalar(found) or 0

    def enroll(self) -> KioskConfig:
        """Enroll the seeded gate's kiosk over HTTP with its one-time token."""
        return enroll_kiosk(
            self.server.base_url,
            self.seed.gates[0].token,
            self.kiosk_dir,
            language="en",
            mqtt_root=self.fleet_settings.mqtt_root,
            resend_after=1.0,
        )

    def start_bridge(self) -> FleetBridge:
        bridge = start_bridge(self.database, self.fleet_settings, clock=utc_now)
        assert bridge.wait_connected(WAIT), "the bridge could not connect to the broker"
        return bridge


@pytest.fixture
def world(database_url: str, mqtt_url: str, tmp_path: Path) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:10]
    settings = Settings(
        database_url=database_url,
        database_schema="none",
        data_dir=tmp_path / "server",
        secret_key=SecretStr("end-to-end"),
        sms_sender="outbox",
        background_jobs=False,
        log_json=False,
    )
    fleet_settings = FleetSettings(
        mqtt_bridge=False,
        mqtt_url=mqtt_url,
        # private topics and client id: the broker may be shared with other test processes
        mqtt_root=f"e2e{suffix}",
        mqtt_client_id=f"admit-e2e-{suffix}",
        mqtt_share_group=f"e2e{suffix}",
    )
    app = create_app(settings)
    app.state.fleet_settings = fleet_settings
    database: Database = app.state.database
    seeder = DemoSeeder(
        database,
        settings,
        fleet_settings,
        now=utc_now,
        rng=random.Random(7),
        admin_password="admin-password-1",
        owner_password=OWNER_PASSWORD,
        venue_slug=f"e2e-{suffix}",  # unique client ids on a shared broker
    )
    sizes = SeedSizes(
        tickets=12, checked_in_at_counter=0, refunded_before=0, refunded_live=0, vip_tickets=0
    )
    with InProcessServer(app) as server:
        seed = seeder.seed(sizes, gate_count=1)
        login = httpx.post(
            f"{server.base_url}/api/auth/login",
            json={"phone": seed.owner_phone, "password": OWNER_PASSWORD},
        )
        assert login.status_code == 200, login.text
        yield World(
            server,
            database,
            fleet_settings,
            seed,
            tmp_path / "kiosk",
            {"Authorization": f"Bearer {login.json()['access_token']}"},
        )


def scan(kiosk: DemoKiosk, ticket: SeededTicket, kind: Kind = Kind.VALID) -> ScanResult:
    result = kiosk.present(PlannedScan(kind, ticket.credential))
    assert result.outcome is not None, "the synthetic camera never read the ticket"
    return result


def scan_id(result: ScanResult) -> str:
    assert result.outcome is not None
    return result.outcome.scan_id


def test_a_kiosk_admits_refuses_revoked_and_delivers_everything_after_an_outage(
    world: World,
) -> None:
    tickets = iter(world.seed.valid)
    gate = world.seed.gates[0]
    config = world.enroll()
    assert config.site.gate == gate.key
    again = httpx.post(f"{world.server.base_url}/api/v1/fleet/enroll", json={"token": gate.token})
    assert again.status_code == 401, "an enrollment token works once"

    bridge = world.start_bridge()
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)

        # 1. admitted at the gate, stored and counted by the server, outbox drained on the ack
        first = scan(kiosk, next(tickets))
        assert first.reason == "admitted"
        wait_for(lambda: scan_id(first) in world.stored(), "the admission to be stored")
        wait_for(lambda: kiosk.outbox_depth() == 0, "the kiosk's outbox to drain")
        # the check-in stage runs behind the acknowledgements: the log catches up shortly after
        wait_for(lambda: world.checkins().admitted == 1, "the admission in the check-in log")

        # 2. a refund revokes the ticket; the revocation reaches the gate over MQTT
        refunded = next(tickets)
        refund = httpx.post(
            f"{world.server.base_url}/api/merchant/orders/{refunded.order_id}/refund",
            json={"item_ids": [refunded.order_item_id], "reason": "changed plans"},
            headers=world.owner_headers,
        )
        assert refund.status_code == 201, refund.text
        wait_for(lambda: kiosk.revocations_count() == 1, "the revocation to reach the kiosk")
        assert scan(kiosk, refunded, Kind.REFUNDED).reason == "revoked"
        wait_for(lambda: kiosk.outbox_depth() == 0, "the refusal to be acknowledged")

        # 3. the server's bridge goes away; the gate keeps deciding
        bridge.stop()
        outage_started = datetime.now(UTC)
        while_server_down = [scan(kiosk, next(tickets)) for _ in range(3)]
        kiosk.stop()
        offline_kiosk = DemoKiosk(config, network=False)
        offline_kiosk.start()
        without_network = [scan(offline_kiosk, next(tickets)) for _ in range(2)]
        offline_kiosk.stop()
        kiosk = DemoKiosk(config)
        kiosk.start()
        assert kiosk.wait_connected(WAIT)
        time.sleep(2.0)  # let the kiosk resend unacknowledged scans while nobody stores them
        assert kiosk.outbox_depth() == 5, "nothing is deleted before the server acknowledges it"
        restarted_at = datetime.now(UTC)
        bridge = world.start_bridge()

        outage = while_server_down + without_network
        assert all(result.reason == "admitted" for result in outage)
        wait_for(lambda: kiosk.outbox_depth() == 0, "the outbox to drain after the outage")
        stored = world.stored()
        for result in outage:
            row = stored[scan_id(result)]
            assert result.outcome is not None
            assert row.offline is result.outcome.decision.offline
            assert outage_started <= row.scanned_at < restarted_at <= row.received_at
        assert [r.outcome.decision.offline for r in outage if r.outcome] == [False] * 3 + [True] * 2
        assert world.stored_rows() == len(stored) == 7
        wait_for(lambda: world.checkins().admitted == 6, "the outage's admissions in the log")
    finally:
        kiosk.stop()
        bridge.stop()


def test_a_rotated_key_reaches_the_gate_and_its_tickets_are_admitted(world: World) -> None:
    """Rotate the merchant's key and retire the old one on the server: the gate gets the new
    keyring as a ``set_keys`` command over MQTT, applies it and answers; a ticket re-signed with
    the new key is admitted and the old key's credential refused."""
    resigned, stale = world.seed.valid[0], world.seed.valid[1]
    config = world.enroll()
    bridge = world.start_bridge()
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)
        keys_url = f"{world.server.base_url}/api/merchant/tickets/signing-keys"
        rotated = httpx.post(f"{keys_url}/rotate", headers=world.owner_headers)
        assert rotated.status_code == 201, rotated.text
        new_id = rotated.json()["key_id"]
        retired = httpx.post(f"{keys_url}/{new_id - 1}/retire", headers=world.owner_headers)
        assert retired.status_code == 200, retired.text

        def gate_keys() -> dict[str, str | None]:
            with KioskStore(config.store_path) as store:
                return store.trusted_keys().to_dict()

        with world.database.sessions() as session:
            expected = gate_keyring(session, world.seed.merchant_id)
            new_credential = session.get_one(Ticket, resigned.ticket_id).credential
        assert expected[str(new_id - 1)] is None and expected[str(new_id)] is not None
        wait_for(lambda: gate_keys() == expected, "the new keyring to reach the gate")

        def answers() -> list[tuple[bool | None, dict[str, object] | None]]:
            """The gate's results of the two keyrings sent (rotation, then retirement)."""
            with world.database.sessions() as session:
                found = select(GateCommand).where(GateCommand.name == "set_keys")
                return [(c.ok, c.detail) for c in session.scalars(found.order_by(GateCommand.id))]

        wait_for(
            lambda: len(answers()) == 2 and all(ok is not None for ok, _ in answers()),
            "the gate's answers to both keyrings",
        )
        assert answers() == [
            (True, {"trusted": [new_id - 1, new_id], "retired": []}),
            (True, {"trusted": [new_id], "retired": [new_id - 1]}),
        ]

        assert new_credential != resigned.credential
        admitted = kiosk.present(PlannedScan(Kind.VALID, new_credential))
        assert admitted.reason == "admitted"
        refused = scan(kiosk, stale, Kind.VALID)
        assert refused.reason not in {None, "admitted"}
    finally:
        kiosk.stop()
        bridge.stop()


def test_a_gate_that_missed_a_rotation_gets_the_keyring_from_its_status(world: World) -> None:
    """The key rotates while no bridge runs, so no ``set_keys`` goes out (as for a gate offline
    while its broker session was lost). When the gate connects, its status carries the digest
    of the keyring it holds; the server sees it differs from the merchant's, sends the keyring,
    and the gate admits a ticket signed with the new key."""
    resigned = world.seed.valid[2]
    config = world.enroll()
    keys_url = f"{world.server.base_url}/api/merchant/tickets/signing-keys"
    rotated = httpx.post(f"{keys_url}/rotate", headers=world.owner_headers)
    assert rotated.status_code == 201, rotated.text
    with world.database.sessions() as session:
        expected = gate_keyring(session, world.seed.merchant_id)
        new_credential = session.get_one(Ticket, resigned.ticket_id).credential

    def gate_keys() -> dict[str, str | None]:
        with KioskStore(config.store_path) as store:
            return store.trusted_keys().to_dict()

    assert gate_keys() != expected, "the gate enrolled before the rotation"
    bridge = world.start_bridge()
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)
        wait_for(lambda: gate_keys() == expected, "the keyring to reach the gate")
        assert keyring_digest(gate_keys()) == keyring_digest(expected)
        admitted = kiosk.present(PlannedScan(Kind.VALID, new_credential))
        assert admitted.reason == "admitted"
        # The gate's next status shows the keyring it now holds: nothing more is sent.
        wait_for(lambda: bridge.catchup.reported_keyrings() == {}, "the gate to be settled")
        with world.database.sessions() as session:
            sent = select(GateCommand).where(GateCommand.name == "set_keys")
            assert len(session.scalars(sent).all()) == 1
    finally:
        kiosk.stop()
        bridge.stop()


def test_a_ticket_checked_in_by_staff_is_refused_at_the_gate(world: World) -> None:
    """Staff check-ins reach the gate as gossip of the pseudo-gate ``_staff``: one made before
    the gate enrolled comes with its enrollment (and is refused with no network at all), one
    made while the gate is online arrives over MQTT. The gate's refusals reach the server as
    refusals, not as conflicting admissions."""
    before, during = world.seed.valid[3], world.seed.valid[4]
    check_url = f"{world.server.base_url}/api/merchant/checkin/tickets"

    def check_in_by_staff(ticket: SeededTicket) -> None:
        response = httpx.post(
            check_url, json={"ticket_ids": [ticket.ticket_id]}, headers=world.owner_headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["admitted"] is True

    check_in_by_staff(before)
    config = world.enroll()
    offline = DemoKiosk(config, network=False)
    offline.start()
    try:
        assert scan(offline, before).reason == "already_used"
    finally:
        offline.stop()

    bridge = world.start_bridge()
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)
        check_in_by_staff(during)

        def heard() -> bool:
            with KioskStore(config.store_path) as store:
                rows = store.admissions(f"t:{during.ticket_id}")
            return any(row.gate == STAFF_GATE for row in rows)

        wait_for(heard, "the staff check-in to reach the gate")
        refused = scan(kiosk, during)
        assert refused.reason == "already_used"
        wait_for(lambda: kiosk.outbox_depth() == 0, "both refusals to be acknowledged")
        wait_for(lambda: world.gate_records() == 2, "the gate's refusals in the check-in log")
        assert world.checkins().conflicts == 0, "the gate refused: nothing to flag"
    finally:
        kiosk.stop()
        bridge.stop()


def forget_session(mqtt_url: str, client_id: str) -> None:
    """What an expired session or a broker restarted without persistence leaves: the broker
    drops the client's session and the messages queued for it (a clean-session connect under
    the same client id)."""
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(host, int(port))
    client.loop_start()
    try:
        assert client.is_connected() or _wait_connected(client), "could not reach the broker"
    finally:
        client.disconnect()
        client.loop_stop()


def _wait_connected(client: paho.Client) -> bool:
    deadline = time.monotonic() + WAIT
    while not client.is_connected():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_gate_that_lost_its_session_is_resent_the_staff_check_ins_it_missed(
    world: World, mqtt_url: str
) -> None:
    """The gate goes away; a ticket is checked in at the counter and gossiped while it is away;
    its broker session is lost with the queued message. On reconnect its status shows it holds
    no staff check-in; the server resends the one it missed on the gate's own topic, and the
    gate refuses the ticket ``already_used`` (a refusal at the server, not a conflict)."""
    missed = world.seed.valid[5]
    config = world.enroll()
    bridge = world.start_bridge()
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)  # the broker now keeps this gate's session
        kiosk.stop()

        response = httpx.post(
            f"{world.server.base_url}/api/merchant/checkin/tickets",
            json={"ticket_ids": [missed.ticket_id]},
            headers=world.owner_headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["admitted"] is True
        wait_for(
            lambda: bridge.metrics.count(metrics.STAFF_ADMISSIONS_SENT) == 1,
            "the check-in to be gossiped (queued for the absent gate)",
        )
        forget_session(mqtt_url, config.mqtt.client_id)

        def staff_seq() -> int:
            with KioskStore(config.store_path) as store:
                return store.staff_seq()

        assert staff_seq() == 0
        kiosk = DemoKiosk(config)
        kiosk.start()
        assert kiosk.wait_connected(WAIT)
        wait_for(lambda: staff_seq() > 0, "the missed check-in to be resent")
        assert bridge.metrics.count(metrics.STAFF_ADMISSIONS_RESENT) == 1
        worker = kiosk.simulated.kiosk.worker
        assert worker is not None
        assert (worker.counts["gossip"], worker.counts["staff_resent"]) == (1, 1), (
            "the gate heard the check-in only as the server's resend: its session was lost"
        )
        refused = scan(kiosk, missed)
        assert refused.reason == "already_used"
        wait_for(lambda: kiosk.outbox_depth() == 0, "the refusal to be acknowledged")
        wait_for(lambda: world.gate_records() == 1, "the refusal in the check-in log")
        assert world.checkins().conflicts == 0, "the gate refused: nothing to flag"
        wait_for(lambda: bridge.catchup.reported_staff() == {}, "the gate to be settled")
    finally:
        kiosk.stop()
        bridge.stop()
