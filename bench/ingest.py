"""Scan ingestion throughput: 50 simulated gates -> Mosquitto -> the fleet bridge -> database.

    .venv/bin/python bench/ingest.py [--gates 50] [--scans 400] [--publishers 2]

Starts a private Mosquitto on a free port (persistence off, queue limits raised), then for each
database (a SQLite file; PostgreSQL too when ADMIT_BENCH_DATABASE_URL or the local test server
at postgresql://postgres@127.0.0.1:5432/test answers) runs the real bridge in this process
while publisher processes play the gates: every gate publishes its scans at QoS 1 as fast as
the broker takes them. The clock runs from the first publish until every scan is stored; then
the rows are counted and their scan ids checked (none lost, none duplicated). Beside it, a bare
paho subscriber that only counts the same load gives the ceiling of this machine.
Goal: >= 3,000 events/s and >= 70% of the bare subscriber.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocol.messages import Scan, encode
from protocol.topics import Topics
from server.accounts.models import Merchant, MerchantStatus
from server.catalog.models import Venue
from server.db import Base, Database, make_engine
from server.features import import_all_models
from server.fleet.bridge import FleetBridge
from server.fleet.models import EnrollmentState, Gate, GateDirection, GateScan
from server.fleet.settings import FleetSettings

SITE = "bench-site"
ROOT = "admit"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEADLINE_SECONDS = 300


class EventLike(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateMosquitto:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        config = workdir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 1000000\nmax_inflight_messages 1000\n"
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def mosquitto_version() -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    result = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).splitlines()[0].strip()


# --- publishers (separate processes) -------------------------------------------------------------


def publish_gates(port: int, gate_keys: list[str], scans: int, start: EventLike) -> None:
    """One paho client per gate; waits for ``start``, then publishes every scan at QoS 1."""
    topics = Topics(SITE, ROOT)
    clients = []
    for key in gate_keys:
        client_id = f"bench-{key}-{uuid.uuid4().hex[:6]}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append((key, client))
    payloads = {
        key: [
            encode(
                Scan(
                    scan_id=f"{key}.{seq:06d}",
                    gate=key,
                    seq=seq,
                    scanned_at=1748771999000 + seq,
                    offline=False,
                    direction="in",
                    decision="admitted" if seq % 4 else "rejected",
                    reason="admitted" if seq % 4 else "already_used",
                    ticket_id=None,
                    event_id=None,
                    code_hash=None,
                    entry_no=None,
                    ts=1748771999000 + seq,
                )
            )
            for seq in range(1, scans + 1)
        ]
        for key in gate_keys
    }
    start.wait()
    infos = []
    for index in range(scans):
        for key, client in clients:
            infos.append(client.publish(topics.scans(key), payloads[key][index], qos=1))
    for info in infos:
        info.wait_for_publish(DEADLINE_SECONDS)
    for _, client in clients:
        client.disconnect()
        client.loop_stop()


def run_publishers(
    port: int, gates: int, scans: int, processes: int
) -> tuple[float, list[multiprocessing.Process]]:
    keys = [f"g{n:03d}" for n in range(gates)]
    start = multiprocessing.Event()
    workers = [
        multiprocessing.Process(
            target=publish_gates, args=(port, keys[i::processes], scans, start), daemon=True
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every publisher connect before the clock starts
    started = time.perf_counter()
    start.set()
    return started, workers


# --- the bare subscriber (the ceiling) -----------------------------------------------------------


def bare_subscriber(broker: PrivateMosquitto, gates: int, scans: int, processes: int) -> float:
    total = gates * scans
    received = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received >= total:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bare-{uuid.uuid4().hex[:6]}")
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.subscribe(f"{ROOT}/v1/+/gates/+/scans", qos=1)
    client.loop_start()
    subscribed.wait(10)
    started, workers = run_publishers(broker.port, gates, scans, processes)
    if not done.wait(DEADLINE_SECONDS):
        raise RuntimeError(f"bare subscriber got {received} of {total}")
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(30)
    client.disconnect()
    client.loop_stop()
    return total / elapsed


# --- the bridge into a database ------------------------------------------------------------------


def seed(database: Database, gates: int) -> None:
    now = datetime.now(UTC)
    with database.sessions.begin() as session:
        merchant = Merchant(
            name="Bench",
            contact_phone="+8613800000000",
            status=MerchantStatus.ACTIVE,
            events_public=True,
            created_at=now,
            updated_at=now,
        )
        session.add(merchant)
        session.flush()
        venue = Venue(merchant_id=merchant.id, slug=SITE, name="Bench", created_at=now)
        session.add(venue)
        session.flush()
        for n in range(gates):
            key = f"g{n:03d}"
            session.add(
                Gate(
                    merchant_id=merchant.id,
                    venue_id=venue.id,
                    key=key,
                    name=key,
                    direction=GateDirection.IN,
                    enrollment=EnrollmentState.ENROLLED,
                    mqtt_username=f"kiosk-{SITE}-{key}",
                    created_at=now,
                    state="unknown",
                    allowlist_version=0,
                    revocations_version=0,
                    outbox_depth=0,
                    ack_watermark=0,
                )
            )


def bridge_run(
    broker: PrivateMosquitto, url: str, gates: int, scans: int, processes: int
) -> tuple[float, int, int]:
    """Events per second into the database, rows stored, distinct scan ids."""
    total = gates * scans
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    database = Database.connect(url)
    seed(database, gates)
    settings = FleetSettings(
        mqtt_bridge=True,
        mqtt_url=broker.url,
        mqtt_root=ROOT,
        mqtt_client_id=f"bench-server-{uuid.uuid4().hex[:6]}",
        mqtt_share_group=f"bench{uuid.uuid4().hex[:6]}",
    )
    bridge = FleetBridge(database, settings, clock=lambda: datetime.now(UTC)).start()
    if not bridge.wait_connected(10):
        raise RuntimeError("bridge did not connect")
    time.sleep(0.5)
    started, workers = run_publishers(broker.port, gates, scans, processes)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while bridge.metrics.count("scans_stored") < total and time.monotonic() < deadline:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(30)
    bridge.stop()
    with database.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(GateScan)) or 0
        distinct = (
            session.scalar(
                select(
                    func.count(func.distinct(GateScan.gate_id.concat(":").concat(GateScan.scan_id)))
                )
            )
            or 0
        )
    database.dispose()
    return total / elapsed, int(rows), int(distinct)


def postgres_url() -> str | None:
    base = os.environ.get("ADMIT_BENCH_DATABASE_URL", LOCAL_POSTGRES)
    try:
        engine = make_engine(base)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception:
        return None
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def drop_schema(url: str) -> None:
    base, _, options = url.partition("options=-csearch_path%3D")
    engine = make_engine(base.rstrip("?&"))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{options}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=50)
    parser.add_argument("--scans", type=int, default=400, help="scans per gate")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    args = parser.parse_args()
    import_all_models()
    total = args.gates * args.scans
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"broker: {mosquitto_version()} (private, persistence off, queue limits raised)")
    print(
        f"load: {args.gates} gates x {args.scans} scans = {total} scan events, QoS 1, "
        f"{args.publishers} publisher processes\n"
    )
    with tempfile.TemporaryDirectory() as workdir:
        broker = PrivateMosquitto(Path(workdir))
        try:
            ceiling = bare_subscriber(broker, args.gates, args.scans, args.publishers)
            print(f"{'bare paho subscriber (counts only)':<40} {ceiling:>10,.0f} events/s")
            targets = [("SQLite file", f"sqlite:///{workdir}/bench.sqlite3")]
            pg = postgres_url()
            if pg:
                targets.append(("PostgreSQL", pg))
            else:
                print("PostgreSQL: not reachable, skipped")
            for name, url in targets:
                try:
                    rate, rows, distinct = bridge_run(
                        broker, url, args.gates, args.scans, args.publishers
                    )
                finally:
                    if url.startswith("postgresql"):
                        drop_schema(url)
                verdict = "ok" if rows == total == distinct else "MISMATCH"
                print(
                    f"{'bridge -> ' + name:<40} {rate:>10,.0f} events/s  "
                    f"({rate / ceiling:.0%} of bare; rows {rows}/{total}, "
                    f"distinct {distinct}: {verdict})"
                )
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
