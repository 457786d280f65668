"""The generated ACL and password file, proven on a real mosquitto: a kiosk speaks only for its
own gate and hears only its own commands; revoking a gate locks its kiosk out."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from server.fleet.broker_files import KioskAccount, render_acl, render_password_file
from server.fleet.settings import FleetSettings
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import WAIT_SECONDS, wait_until
from tests.support.brokers import MosquittoBroker, free_port

SERVER_PASSWORD = "server-secret"


def test_acl_lists_each_kiosks_own_topics_and_the_server() -> None:
    text = render_acl(
        [KioskAccount("kiosk-expo-north-1", "$7$x", "expo", "north-1")],
        server_username="admit-server",
        root="admit",
    )

    assert "user kiosk-expo-north-1\ntopic write admit/v1/expo/gates/north-1/status\n" in text
    assert "topic read admit/v1/expo/gates/north-1/commands\n" in text
    assert "topic write admit/v1/expo/gates/north-1/acks" not in text
    assert text.endswith("user admit-server\ntopic readwrite admit/v1/#\n")


def test_password_file_lines_are_sorted_user_hash_pairs() -> None:
    assert render_password_file([("b", "$7$2"), ("a", "$7$1")]) == "a:$7$1\nb:$7$2\n"


class Client:
    """A connected paho client that records what it receives."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.refused: int | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex)
        self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.on_connect = self._on_connect
        self.subacks: set[int] = set()
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.add(mid)
        self.connected = False
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self.connected or self.refused is not None, "CONNACK")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, p: Any) -> None:
        if rc.is_failure:
            self.refused = rc.value
            client.disconnect()
        else:
            self.connected = True

    def subscribe(self, topic: str) -> None:
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        wait_until(lambda: mid in self.subacks, "SUBACK")

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_SECONDS)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker_dir(tmp_path: Path) -> Path:
    return tmp_path / "broker"


@pytest.fixture
def fleet_settings(broker_dir: Path) -> FleetSettings:
    return FleetSettings(
        mqtt_bridge=False,
        mqtt_url=f"mqtt://admit-server:{SERVER_PASSWORD}@127.0.0.1:{free_port()}",
        mqtt_root="admit",
        mosquitto_password_file=broker_dir / "passwords",
        mosquitto_acl_file=broker_dir / "acl",
    )


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def test_kiosks_are_confined_to_their_own_topics(
    world: FleetWorld,
    client: TestClient,
    fleet_settings: FleetSettings,
    broker_dir: Path,
    clients: list[Client],
) -> None:
    north = world.enroll("north-1")
    south = world.enroll("south-1")
    site = north["site"]
    assert fleet_settings.mosquitto_password_file is not None
    assert fleet_settings.mosquitto_acl_file is not None
    config = (
        f"password_file {fleet_settings.mosquitto_password_file}\n"
        f"acl_file {fleet_settings.mosquitto_acl_file}\n"
    )
    port = int(fleet_settings.mqtt_url.rsplit(":", 1)[1])
    with MosquittoBroker(
        broker_dir, extra_config=config, allow_anonymous=False, port=port
    ) as broker:
        server = Client(broker.port, "admit-server", SERVER_PASSWORD)
        kiosk = Client(broker.port, north["mqtt"]["username"], north["mqtt"]["password"])
        clients.extend([server, kiosk])
        server.subscribe("admit/v1/+/gates/+/scans")
        kiosk.subscribe(f"admit/v1/{site}/gates/south-1/commands")
        kiosk.subscribe(f"admit/v1/{site}/gates/north-1/commands")
        server.subscribe(f"admit/v1/{site}/gates/north-1/acks")

        kiosk.publish(f"admit/v1/{site}/gates/south-1/scans", b"forged")
        kiosk.publish(f"admit/v1/{site}/gates/north-1/acks", b"forged ack")
        kiosk.publish(f"admit/v1/{site}/gates/north-1/scans", b"mine")
        server.publish(f"admit/v1/{site}/gates/south-1/commands", b"for south")
        server.publish(f"admit/v1/{site}/gates/north-1/commands", b"for north")

        # Messages from one publisher arrive in order: once the allowed one is here, the
        # refused one published before it would have been too.
        wait_until(lambda: len(server.received) >= 1, "the kiosk's own scan")
        wait_until(lambda: len(kiosk.received) >= 1, "the kiosk's own command")
        assert server.received == [(f"admit/v1/{site}/gates/north-1/scans", b"mine")]
        assert kiosk.received == [(f"admit/v1/{site}/gates/north-1/commands", b"for north")]

        south_kiosk = Client(broker.port, south["mqtt"]["username"], south["mqtt"]["password"])
        clients.append(south_kiosk)
        assert south_kiosk.connected

        revoked = client.post(
            f"/api/v1/fleet/gates/{north['gate_id']}/revoke", headers=world.headers
        )
        assert revoked.status_code == 200
        assert north["mqtt"]["username"] not in fleet_settings.mosquitto_acl_file.read_text()
        assert broker.process is not None
        subprocess.run(["kill", "-HUP", str(broker.process.pid)], check=True)

        def north_refused() -> bool:
            attempt = Client(broker.port, north["mqtt"]["username"], north["mqtt"]["password"])
            attempt.close()
            return attempt.refused is not None

        wait_until(north_refused, "the revoked kiosk to be refused")
        assert os.stat(fleet_settings.mosquitto_password_file).st_mode & 0o777 == 0o640


def test_mosquitto_passwd_hashes_verify(tmp_path: Path) -> None:
    from server.fleet.passwords import verify_password

    path = tmp_path / "pw"
    path.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(path), "alice", "s3cret"], check=True)
    user, hashed = path.read_text().strip().split(":", 1)

    assert user == "alice"
    assert verify_password("s3cret", hashed)
    assert not verify_password("S3cret", hashed)
