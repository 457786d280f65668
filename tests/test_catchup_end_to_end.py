"""A real kiosk that missed list updates catches up: by MQTT deltas, by an MQTT snapshot when it
is too far behind, and over HTTP when the server's bridge is down; and its telemetry reaches the
registry.

Same set-up as ``tests/test_end_to_end.py`` (whose fixtures this module reuses): the server under
uvicorn on the server tests' database, its bridge started by the test, the real kiosk program on
simulated hardware, Mosquitto in between. "Missed" is made real by dropping the kiosk's broker
session while it is stopped (as a broker restart without persistence, or its queue limit, would):
the deltas published meanwhile are then gone for it, and only catch-up can bring them.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as paho
import pytest
import tomlkit
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from kiosk.config import KioskConfig, load_config
from protocol import messages
from protocol.topics import Topics
from server.clock import utc_now
from server.demo.kiosks import DemoKiosk, enroll_kiosk
from server.demo.plan import Kind
from server.demo.seed import SeededTicket
from server.fleet import metrics
from server.fleet.bridge import FleetBridge, start_bridge
from server.fleet.models import ListName, SiteList
from tests import test_end_to_end as end_to_end
from tests.test_end_to_end import WAIT, World, scan, wait_for

# the end-to-end fixtures: the server tests' databases, the server with a seeded event and gate
database_url = end_to_end.database_url
postgres_tables_url = end_to_end.postgres_tables_url
world = end_to_end.world


def _enroll(world: World, **settings: dict[str, float]) -> KioskConfig:
    """Enroll the seeded gate; ``settings`` are extra TOML tables, e.g. server={...}."""
    config = enroll_kiosk(
        world.server.base_url,
        world.seed.gates[0].token,
        world.kiosk_dir,
        language="en",
        mqtt_root=world.fleet_settings.mqtt_root,
        resend_after=1.0,
    )
    assert config.path is not None
    document = tomlkit.parse(config.path.read_text(encoding="utf-8"))
    for table, values in settings.items():
        target = document.setdefault(table, tomlkit.table())
        for key, value in values.items():
            target[key] = value
    config.path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return load_config(config.path, env={})


def _drop_broker_session(mqtt_url: str, config: KioskConfig) -> None:
    """Connect once as the kiosk with a clean session: the broker forgets its subscriptions and
    anything queued for it."""
    parts = urlsplit(mqtt_url)
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=config.mqtt.client_id,
        clean_session=True,
    )
    if config.mqtt.username:
        client.username_pw_set(config.mqtt.username, config.mqtt.password)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    client.disconnect()
    client.loop_stop()


def _refund(world: World, ticket: SeededTicket) -> None:
    response = httpx.post(
        f"{world.server.base_url}/api/merchant/orders/{ticket.order_id}/refund",
        json={"item_ids": [ticket.order_item_id], "reason": "changed plans"},
        headers=world.owner_headers,
    )
    assert response.status_code == 201, response.text


def _site_version(world: World, name: ListName) -> int:
    with world.database.sessions() as session:
        head = session.scalar(select(SiteList).where(SiteList.list == name))
        return head.version if head is not None else 0


class GateListsRecorder:
    """Everything the server sends on the gate's own ``lists`` topic."""

    def __init__(self, mqtt_url: str, topic: str) -> None:
        self.updates: list[messages.ListUpdate] = []
        parts = urlsplit(mqtt_url)
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        result, _ = self.client.subscribe(topic, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        message = messages.decode(msg.payload)
        if isinstance(message, messages.ListUpdate):
            self.updates.append(message)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def recorder(world: World, mqtt_url: str) -> Iterator[GateListsRecorder]:
    gate = world.seed.gates[0]
    topics = Topics(world.seed.venue_slug, world.fleet_settings.mqtt_root)
    made = GateListsRecorder(mqtt_url, topics.lists(gate.key))
    yield made
    made.close()


def _miss_two_refunds(
    world: World, mqtt_url: str, config: KioskConfig, bridge: FleetBridge
) -> list[SeededTicket]:
    """Run the kiosk once (current lists), stop it, drop its session, refund two tickets while
    it is away; returns the refunded tickets."""
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)
    finally:
        kiosk.stop()
    _drop_broker_session(mqtt_url, config)
    refunded = world.seed.valid[:2]
    revocations_before = _site_version(world, ListName.REVOCATIONS)
    for ticket in refunded:
        _refund(world, ticket)
    wanted = revocations_before + 2
    wait_for(lambda: _site_version(world, ListName.REVOCATIONS) == wanted, "two revocations")
    wait_for(lambda: bridge.metrics.count(metrics.ANNOUNCES_SENT) >= 3, "the announces")
    return refunded


def _refused_as_revoked(kiosk: DemoKiosk, refunded: list[SeededTicket]) -> None:
    wait_for(lambda: kiosk.revocations_count() == 2, "both revocations at the gate")
    for ticket in refunded:
        assert scan(kiosk, ticket, Kind.REFUNDED).reason == "revoked"


def test_a_kiosk_that_missed_two_refunds_catches_up_by_deltas(
    world: World, mqtt_url: str, recorder: GateListsRecorder
) -> None:
    config = _enroll(world)
    bridge = start_bridge(world.database, world.fleet_settings, clock=utc_now)
    try:
        assert bridge.wait_connected(WAIT)
        refunded = _miss_two_refunds(world, mqtt_url, config, bridge)

        kiosk = DemoKiosk(config)
        kiosk.start()
        try:
            assert kiosk.wait_connected(WAIT)
            _refused_as_revoked(kiosk, refunded)
        finally:
            kiosk.stop()
        revocations = [u for u in recorder.updates if u.list == "revocations"]
        assert revocations and not any(u.snapshot for u in recorder.updates)
        assert [u.to_version for u in revocations][-2:] == [
            _site_version(world, ListName.REVOCATIONS) - 1,
            _site_version(world, ListName.REVOCATIONS),
        ]
        assert bridge.metrics.count(metrics.CATCHUPS_SENT) >= 2  # revocations and allowlist
    finally:
        bridge.stop()


def test_a_kiosk_further_behind_than_the_bound_gets_a_snapshot(
    world: World, mqtt_url: str, recorder: GateListsRecorder
) -> None:
    config = _enroll(world)
    settings = world.fleet_settings.model_copy(update={"catchup_max_deltas": 1})
    bridge = start_bridge(world.database, settings, clock=utc_now)
    try:
        assert bridge.wait_connected(WAIT)
        refunded = _miss_two_refunds(world, mqtt_url, config, bridge)

        kiosk = DemoKiosk(config)
        kiosk.start()
        try:
            assert kiosk.wait_connected(WAIT)
            _refused_as_revoked(kiosk, refunded)
        finally:
            kiosk.stop()
        revocations = [u for u in recorder.updates if u.list == "revocations"]
        assert revocations and all(u.snapshot for u in revocations)
        assert sorted(entry for u in revocations for entry in u.add) == sorted(
            str(t.ticket_id) for t in refunded
        )
    finally:
        bridge.stop()


def test_a_kiosk_fetches_the_snapshot_over_http_when_the_bridge_is_down(
    world: World, mqtt_url: str, recorder: GateListsRecorder
) -> None:
    config = _enroll(world, server={"catchup_timeout": 0.5})
    bridge = start_bridge(world.database, world.fleet_settings, clock=utc_now)
    try:
        assert bridge.wait_connected(WAIT)
        refunded = _miss_two_refunds(world, mqtt_url, config, bridge)
    finally:
        bridge.stop()  # the retained announce stays on the broker; nobody answers statuses

    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert kiosk.wait_connected(WAIT)
        _refused_as_revoked(kiosk, refunded)
        catchup = kiosk.simulated.kiosk.http_catchup
        assert catchup is not None and catchup.fetched >= 1
    finally:
        kiosk.stop()
    assert recorder.updates == []  # nothing came over MQTT


def test_kiosk_telemetry_reaches_the_registry(world: World) -> None:
    config = _enroll(world, telemetry={"interval": 0.2})
    bridge = start_bridge(world.database, world.fleet_settings, clock=utc_now)
    kiosk = DemoKiosk(config)
    kiosk.start()
    try:
        assert bridge.wait_connected(WAIT) and kiosk.wait_connected(WAIT)
        assert scan(kiosk, world.seed.valid[0]).reason == "admitted"

        def registry() -> dict[str, object]:
            gates = httpx.get(
                f"{world.server.base_url}/api/v1/fleet/gates", headers=world.owner_headers
            )
            assert gates.status_code == 200, gates.text
            gate: dict[str, object] = gates.json()[0]
            return gate

        def counted_the_scan() -> bool:
            telemetry = registry()["telemetry"]
            return isinstance(telemetry, dict) and telemetry.get("scans_admitted") == 1

        wait_for(counted_the_scan, "telemetry counting the admission")
        gate = registry()
        telemetry = gate["telemetry"]
        assert isinstance(telemetry, dict)
        assert telemetry["scans_decided"] == 1 and telemetry["scans_rejected"] == 0
        assert {"outbox_depth", "link_reconnects", "uptime_s", "decode_ms_p50"} <= set(telemetry)
        # Machine health the dashboard judges (no thermal sensor here, so no cpu_temp_c).
        assert {"interval_s", "disk_free_mb", "disk_free_pct"} <= set(telemetry)
        assert telemetry["interval_s"] == 0.2
        assert gate["telemetry_at"] is not None
    finally:
        kiosk.stop()
        bridge.stop()
