"""Fixtures for the kiosk's link, program and durability tests.

- ``signing_key`` and :func:`make_ticket`: real signed credentials;
- :func:`write_config`: a kiosk TOML in a temporary directory (camera off, mock pins) whose
  store trusts ``signing_key``;
- :class:`FakeServer`: the server's side of the wire as the real one behaves: a paho client
  that stores scans by scan id (duplicates counted, not stored twice), acknowledges them with
  ``scan_ack`` after "storing", records statuses and command results, and sends commands.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.config import KioskConfig, load_config
from kiosk.store import KioskStore
from protocol import messages, topics
from protocol.credential import TicketClaims
from protocol.signing import Keyring, SigningKey, sign_ticket

SITE = "expo-hall"
GATE = "north-1"
EVENT_ID = 17


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.from_seed(1, bytes(range(32)))


def make_ticket(
    key: SigningKey, ticket_id: int, *, entries: int = 1, event_id: int = EVENT_ID
) -> str:
    claims = TicketClaims(
        ticket_id=ticket_id, event_id=event_id, zone=0, entries=entries, key_id=key.key_id
    )
    return sign_ticket(claims, key)


def write_config(
    directory: Path,
    mqtt_url: str,
    key: SigningKey,
    *,
    gate: str = GATE,
    extra: str = "",
    resend_after: float = 30.0,
    keepalive: int = 30,
) -> KioskConfig:
    """A kiosk TOML for ``gate`` (camera off, scanner off, mock pins) and its store."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kiosk.toml"
    path.write_text(
        f"""
[site]
id = "{SITE}"
gate = "{gate}"
language = "en"

[mqtt]
url = "{mqtt_url}"
keepalive = {keepalive}

[store]
path = "kiosk.db"

[outbox]
window = 100
resend_after = {resend_after}
status_interval = 0.2

[camera]
source = "none"

[gate]
pin_factory = "mock"
passage_timeout = 5.0

[policy]
events = [{EVENT_ID}]
entries = "ticket"
{extra}
"""
    )
    config = load_config(path, env={})
    with KioskStore(config.store_path) as store:
        keyring = Keyring()
        keyring.add(key.key_id, key.public_key_text())
        store.set_trusted_keys(keyring)
    return config


class FakeServer:
    """A server stand-in on a real broker: stores scans by id and acks them after storing."""

    def __init__(self, url: str, *, site: str = SITE, ack: bool = True) -> None:
        self.topics = topics.Topics(site)
        self.ack = ack
        self.scans: dict[str, messages.Scan] = {}
        #: scan ids in the order they were first stored
        self.order: list[str] = []
        self.duplicates = 0
        self.statuses: list[messages.Status] = []
        self.results: list[messages.CommandResult] = []
        self.admissions: list[messages.Admission] = []
        self._lock = threading.Condition()
        host, port = url.removeprefix("mqtt://").split(":")
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fake-server-{messages.new_id()[:8]}",
        )
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.connect(host, int(port))
        self.client = client
        self._connected = threading.Event()
        client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("fake server could not connect")

    def _on_connect(self, client: paho.Client, *args: Any) -> None:
        for kind in (topics.SCANS, topics.STATUS, topics.RESULTS, topics.ADMISSIONS):
            client.subscribe(self.topics.all_gates(kind), qos=1)
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        message = messages.decode(msg.payload)
        with self._lock:
            if isinstance(message, messages.Scan):
                if message.scan_id in self.scans:
                    self.duplicates += 1
                else:
                    self.scans[message.scan_id] = message
                    self.order.append(message.scan_id)
                if self.ack:
                    ack = messages.ScanAck(
                        gate=message.gate,
                        scan_ids=[message.scan_id],
                        watermark=0,
                        ts=int(time.time() * 1000),
                    )
                    client.publish(self.topics.acks(message.gate), messages.encode(ack), qos=1)
            elif isinstance(message, messages.Status):
                self.statuses.append(message)
            elif isinstance(message, messages.CommandResult):
                self.results.append(message)
            elif isinstance(message, messages.Admission):
                self.admissions.append(message)
            self._lock.notify_all()

    def wait_for(self, condition: Callable[[FakeServer], bool], timeout: float = 30.0) -> bool:
        """Wait until ``condition(self)`` holds (checked on every message)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))
            return True

    def command(self, gate: str, command: messages.Command) -> None:
        self.client.publish(self.topics.commands(gate), messages.encode(command), qos=1)

    def publish_raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def gate_id() -> str:
    """A gate id of its own per test: the session's broker keeps sessions and retained
    statuses across tests."""
    return f"gate-{messages.new_id()[:10]}"


@pytest.fixture
def fake_server(mqtt_url: str) -> Iterator[FakeServer]:
    server = FakeServer(mqtt_url)
    try:
        yield server
    finally:
        server.close()


def now_ms() -> int:
    return time.time_ns() // 1_000_000
