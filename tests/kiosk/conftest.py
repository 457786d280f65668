"""Fixtures for the kiosk's link, program and durability tests.

- ``signing_key`` and :func:`make_ticket`: real signed credentials;
- :func:`write_config`: a kiosk TOML in a temporary directory (camera off, mock pins) whose
  store trusts ``signing_key``;
- :class:`FakeServer`: the server's side of the wire as the real one behaves: a paho client
  that stores scans by scan id (duplicates counted, not stored twice), acknowledges them with
  ``scan_ack`` after "storing", records statuses and command results, and sends commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.app import Kiosk, ScanOutcome
from kiosk.clock import GateClock
from kiosk.config import KioskConfig, load_config
from kiosk.debounce import Debouncer
from kiosk.outbox import scan_payload
from kiosk.simulate import simulated_hardware
from kiosk.store import KioskStore, ScanRecord
from protocol import messages, topics
from protocol.credential import TicketClaims
from protocol.signing import Keyring, SigningKey, sign_ticket
from tests.conftest import REPO_ROOT
from tests.support.brokers import MosquittoBroker, mosquitto_binary

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
    passage_timeout: float = 5.0,
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
passage_timeout = {passage_timeout}

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
        #: gate -> scan ids stored and not yet acknowledged (acked in batches, like the server)
        self._to_ack: dict[str, list[str]] = {}
        self._closed = threading.Event()
        host, port = url.removeprefix("mqtt://").split(":")
        # a persistent session, like the real server's: the broker queues scans for it while
        # it is away (a broker restart included)
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fake-server-{messages.new_id()[:8]}",
            clean_session=False,
        )
        client.reconnect_delay_set(1, 2)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.connect(host, int(port))
        self.client = client
        self._connected = threading.Event()
        client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("fake server could not connect")
        self._acker = threading.Thread(target=self._ack_batches, daemon=True)
        self._acker.start()

    def _ack_batches(self) -> None:
        """Every 10 ms, acknowledge what was stored since (one scan_ack per 1000 ids)."""
        while not self._closed.wait(0.01):
            with self._lock:
                batches, self._to_ack = self._to_ack, {}
            for gate, scan_ids in batches.items():
                for start in range(0, len(scan_ids), messages.MAX_SCAN_IDS_PER_ACK):
                    ack = messages.ScanAck(
                        gate=gate,
                        scan_ids=scan_ids[start : start + messages.MAX_SCAN_IDS_PER_ACK],
                        watermark=0,
                        ts=now_ms(),
                    )
                    self.client.publish(self.topics.acks(gate), messages.encode(ack), qos=1)

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
                    self._to_ack.setdefault(message.gate, []).append(message.scan_id)
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
        self._closed.set()
        self._acker.join(2)
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def gate_id() -> str:
    """A gate id of its own per test: the session's broker keeps sessions and retained
    statuses across tests."""
    return f"gate-{messages.new_id()[:10]}"


@pytest.fixture
def persistent_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private mosquitto whose persistence really works, so sessions and queued messages
    survive a restart as on a production broker.

    mosquitto started as root drops to its own user; that user must be able to write the data
    directory, or the broker runs without persistence (and without its log) and says nothing.
    """
    if mosquitto_binary() is None:
        pytest.fail("this test needs a mosquitto binary: apt-get install mosquitto")
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    workdir.chmod(0o777)
    with MosquittoBroker(workdir) as broker:
        yield broker


@pytest.fixture
def fake_server(mqtt_url: str) -> Iterator[FakeServer]:
    server = FakeServer(mqtt_url)
    try:
        yield server
    finally:
        server.close()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def fill_outbox(config: KioskConfig, count: int) -> list[str]:
    """Queue ``count`` decided scans in the kiosk's outbox (one transaction), as a kiosk does
    while the broker is unreachable; returns their scan ids in seq order."""
    gate = config.site.gate
    scan_ids = []
    with KioskStore(config.store_path) as store, store.transaction():
        for index in range(count):
            scan_id = f"{gate}.{messages.new_id()}"
            at = now_ms()
            payload = scan_payload(
                scan_id=scan_id,
                gate=gate,
                scanned_at=at,
                offline=True,
                direction="in",
                decision="rejected",
                reason="unknown_ticket",
                ticket_id=index,
                event_id=EVENT_ID,
                code_hash=None,
                entry_no=None,
            )
            store.record_scan(ScanRecord(scan_id, gate, "in", at, False, None, None), payload)
            scan_ids.append(scan_id)
    return scan_ids


def outbox_depth(config: KioskConfig) -> int:
    with KioskStore(config.store_path) as store:
        return store.outbox_depth()


@contextmanager
def running_kiosk(
    config: KioskConfig,
    *,
    network: bool = True,
    on_scan: Callable[[ScanOutcome], None] | None = None,
    debouncer: Debouncer | None = None,
    clock: GateClock | None = None,
) -> Iterator[Kiosk]:
    """The kiosk program in a thread of this process (mock pins, no camera)."""
    kiosk = Kiosk(
        config,
        simulated_hardware(config, None),
        network=network,
        on_scan=on_scan,
        debouncer=debouncer,
        clock=clock,
    )
    thread = threading.Thread(target=kiosk.run, daemon=True)
    thread.start()
    try:
        yield kiosk
    finally:
        kiosk.stop()
        thread.join(20)
        assert not thread.is_alive(), "the kiosk did not stop"


def start_kiosk_process(config: KioskConfig, log_path: Path) -> subprocess.Popen[bytes]:
    """``admit kiosk run --config ...`` as a real process (its [gate] uses mock pins)."""
    assert config.path is not None
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config.path)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
