"""Scan ingestion throughput: 50 simulated gates -> Mosquitto -> the fleet bridge -> database.

    .venv/bin/python bench/ingest.py [--gates 50] [--scans 400] [--publishers 2] [--bridges 1 2]
                                     [--databases sqlite postgresql] [--rounds 1]

One private Mosquitto on a free port with the queue and in-flight limits of
deploy/mosquitto/mosquitto.conf (persistence off). Every run plays the same load: publisher
processes, one paho client per gate, publish every scan at QoS 1 as fast as the broker takes
it; the clock starts when they start. Side by side, against that broker and load:

- the ceiling: a bare paho subscriber in its own process that only counts, subscribed like the
  bridge (MQTT 5, the shared subscription, the bridge's Receive Maximum, QoS 1, PUBACK on
  receipt); measured before every round of bridge runs and once more at the end, and each
  bridge run is compared with the higher of the bare runs around it (``--rounds N`` plays
  everything N times and reports medians: on a shared machine the ceiling moves);
- the real bridge (``FleetBridge``, every thread of it, with the server's settings and process
  tuning) in 1 and in 2 server processes sharing the subscription, into a SQLite file and into
  PostgreSQL (ADMIT_BENCH_DATABASE_URL, else the local test server when it answers), each run
  on a fresh database.

A bridge run's figure is scans per second until the last scan is committed; beside it, until
every gate has heard a ScanAck for each of its scans (end to end: the kiosk may drop them), and
until the check-in stage, which runs behind ingestion, has caught up. Three scans in four admit
a seeded single-entry ticket, the fourth is a rejection. Then the database is checked: rows,
distinct (gate, scan id), every gate's ack watermark at its last scan, one check-in log row per
scan and one counted entry per admission.
Goal: >= 3,000 events/s and >= 70% of the bare subscriber, none lost, none duplicated.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine_info import describe_machine

from protocol import topics as topic_names
from protocol.messages import Scan, encode
from protocol.topics import Topics, shared_subscription
from server.accounts.models import Merchant, MerchantStatus
from server.catalog.models import Venue
from server.checkin.models import CheckinRecord
from server.db import Base, Database, make_engine
from server.features import import_all_models
from server.fleet import metrics
from server.fleet.bridge import RECEIVE_MAXIMUM, FleetBridge
from server.fleet.models import EnrollmentState, Gate, GateDirection, GateScan
from server.fleet.settings import FleetSettings
from server.process import freeze_startup_objects, shorten_gil_switch_interval
from server.tickets.models import Ticket, TicketStatus

SITE = "bench-site"
ROOT = "admit"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "mosquitto.conf"
BROKER_LIMITS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages")
DEADLINE_SECONDS = 300
SETTLE_SECONDS = 1.0
POLL_SECONDS = 0.02


class EventLike(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...
    def set(self) -> None: ...
    def is_set(self) -> bool: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def deploy_limits() -> list[str]:
    """The queue and in-flight lines of the production Mosquitto config."""
    lines = DEPLOY_CONFIG.read_text().splitlines()
    return [line.strip() for line in lines if line.strip().split(" ")[0] in BROKER_LIMITS]


class PrivateMosquitto:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.limits = deploy_limits()
        config = workdir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            + "".join(line + "\n" for line in self.limits)
        )
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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


def mosquitto_binary() -> str:
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def mosquitto_version() -> str:
    result = subprocess.run([mosquitto_binary(), "-h"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).splitlines()[0].strip()


def gate_keys(gates: int) -> list[str]:
    return [f"g{n:03d}" for n in range(gates)]


# --- publishers: the gates (separate processes) --------------------------------------------------


def admitted(seq: int) -> bool:
    """Three scans in four are admissions of a seeded ticket; the fourth is a rejection."""
    return seq % 4 != 0


def ticket_id_of(gate_index: int, seq: int, scans: int) -> int:
    """The seeded ticket a gate's admission names (one per scan, so every admission counts)."""
    return gate_index * scans + seq


def scan_payloads(key: str, scans: int) -> list[bytes]:
    """A gate's scans as the kiosk encodes them."""
    gate_index = int(key.removeprefix("g"))
    return [
        encode(
            Scan(
                scan_id=f"{key}.{seq:06d}",
                gate=key,
                seq=seq,
                scanned_at=1748771999000 + seq,
                offline=False,
                direction="in",
                decision="admitted" if admitted(seq) else "rejected",
                reason="admitted" if admitted(seq) else "already_used",
                ticket_id=ticket_id_of(gate_index, seq, scans) if admitted(seq) else None,
                event_id=1 if admitted(seq) else None,
                code_hash=None,
                entry_no=None,
                ts=1748771999000 + seq,
            )
        )
        for seq in range(1, scans + 1)
    ]


class AckTracker:
    """Which of one gate's scans a ScanAck (ids or watermark) has covered. Linear in the acks:
    the simulated gates share the cores with the bridge they measure (a gate's own kiosk
    would not)."""

    def __init__(self, scans: int, on_complete: Callable[[], None]) -> None:
        self.waiting = set(range(1, scans + 1))
        #: Every seq below this is known covered (by a watermark or an id).
        self.covered_below = 1
        self.on_complete = on_complete

    def on_ack(self, payload: bytes) -> None:
        ack = json.loads(payload)
        for scan_id in ack["scan_ids"]:
            self.waiting.discard(int(scan_id.rpartition(".")[2]))
        for seq in range(self.covered_below, ack["watermark"] + 1):
            self.waiting.discard(seq)
        self.covered_below = max(self.covered_below, ack["watermark"] + 1)
        if not self.waiting:
            self.on_complete()
            self.on_complete = lambda: None


def publish_gates(
    port: int,
    keys: list[str],
    scans: int,
    ready: EventLike,
    start: EventLike,
    expect_acks: bool,
    acked_at: multiprocessing.Queue[float],
) -> None:
    """One paho client per gate; says ``ready`` once all are connected (and subscribed to their
    acks), waits for ``start``, then publishes every scan at QoS 1. With ``expect_acks``, each
    client listens on its gate's acks topic; the process reports when the last of its gates has
    heard acks for all its scans."""
    topics = Topics(SITE, ROOT)
    remaining = set(keys)
    clients = []
    settled = []
    for key in keys:
        client_ready = threading.Event()
        settled.append(client_ready)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-{key}-{uuid.uuid4().hex[:6]}"
        )
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        if expect_acks:

            def done(key: str = key) -> None:
                remaining.discard(key)
                if not remaining:
                    acked_at.put(time.monotonic())

            tracker = AckTracker(scans, done)
            client.on_message = lambda _c, _u, message, t=tracker: t.on_ack(message.payload)
            client.on_subscribe = lambda *_args, e=client_ready: e.set()
        else:
            client.on_connect = lambda *_args, e=client_ready: e.set()
        client.connect("127.0.0.1", port)
        if expect_acks:
            client.subscribe(topics.acks(key), qos=1)
        client.loop_start()
        clients.append((key, client))
    payloads = {key: scan_payloads(key, scans) for key in keys}
    for client_ready in settled:
        client_ready.wait(30)
    ready.set()
    start.wait()
    infos = []
    for index in range(scans):
        for key, client in clients:
            infos.append(client.publish(topics.scans(key), payloads[key][index], qos=1))
    for info in infos:
        info.wait_for_publish(DEADLINE_SECONDS)
    if expect_acks:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while remaining and time.monotonic() < deadline:
            time.sleep(0.01)
    for _, client in clients:
        client.disconnect()
        client.loop_stop()


@dataclass
class Publishers:
    started: float
    workers: list[BaseProcess]
    acked_at: multiprocessing.Queue[float]

    def all_acked_at(self) -> float | None:
        """When the last gate heard its last ack (None: some never did)."""
        times = []
        for _ in self.workers:
            try:
                times.append(self.acked_at.get(timeout=DEADLINE_SECONDS))
            except queue.Empty:
                return None
        return max(times)

    def join(self) -> None:
        for worker in self.workers:
            worker.join(DEADLINE_SECONDS)


def run_publishers(
    context: multiprocessing.context.SpawnContext,
    port: int,
    gates: int,
    scans: int,
    processes: int,
    *,
    expect_acks: bool,
) -> Publishers:
    keys = gate_keys(gates)
    start = context.Event()
    acked_at: multiprocessing.Queue[float] = context.Queue()
    readies = [context.Event() for _ in range(processes)]
    workers: list[BaseProcess] = [
        context.Process(
            target=publish_gates,
            args=(port, keys[i::processes], scans, readies[i], start, expect_acks, acked_at),
            daemon=True,
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for ready in readies:
        if not ready.wait(60):
            raise RuntimeError("a publisher process did not get ready")
    time.sleep(SETTLE_SECONDS)
    started = time.monotonic()
    start.set()
    return Publishers(started, workers, acked_at)


# --- the bare subscriber (the ceiling) -----------------------------------------------------------


def bare_subscriber(
    port: int, share_group: str, ready: EventLike, received: Synchronized[int], stop: EventLike
) -> None:
    """Counts scans; subscribed exactly as the bridge is, PUBACK on receipt."""
    count = 0

    def on_message(_client: mqtt.Client, _userdata: object, _message: mqtt.MQTTMessage) -> None:
        nonlocal count
        count += 1
        received.value = count

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bare-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.on_subscribe = lambda *_args: ready.set()
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    client.connect("127.0.0.1", port, properties=properties)
    client.subscribe(shared_subscription(share_group, topic_names.SCANS, ROOT), qos=1)
    client.loop_start()
    stop.wait(DEADLINE_SECONDS)
    client.disconnect()
    client.loop_stop()


def bare_run(
    context: multiprocessing.context.SpawnContext,
    broker: PrivateMosquitto,
    gates: int,
    scans: int,
    publishers: int,
) -> float:
    total = gates * scans
    ready, stop = context.Event(), context.Event()
    received: Synchronized[int] = context.Value("q", 0)
    share_group = f"bare{uuid.uuid4().hex[:6]}"
    subscriber = context.Process(
        target=bare_subscriber, args=(broker.port, share_group, ready, received, stop), daemon=True
    )
    subscriber.start()
    if not ready.wait(30):
        raise RuntimeError("bare subscriber did not subscribe")
    load = run_publishers(context, broker.port, gates, scans, publishers, expect_acks=False)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while received.value < total and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    elapsed = time.monotonic() - load.started
    count = received.value
    stop.set()
    subscriber.join(30)
    load.join()
    if count < total:
        raise RuntimeError(f"bare subscriber got {count} of {total}")
    return total / elapsed


# --- the bridge into a database ------------------------------------------------------------------


def seed(database: Database, gates: int, scans: int) -> None:
    """A merchant, its venue, the gates, and a valid single-entry ticket for every admission
    (inserted directly: the check-in stage reads tickets, it does not verify credentials)."""
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
        for key in gate_keys(gates):
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
        tickets = [
            {
                "id": ticket_id_of(gate_index, seq, scans),
                "merchant_id": merchant.id,
                "event_id": 1,
                "ticket_type_id": 1,
                "order_id": 1,
                "order_item_id": ticket_id_of(gate_index, seq, scans),
                "holder_name": "",
                "holder_fields": {},
                "code": f"{ticket_id_of(gate_index, seq, scans):012d}",
                "code_hash": f"{ticket_id_of(gate_index, seq, scans):032x}",
                "status": TicketStatus.VALID,
                "entries_allowed": 1,
                "entries_used": 0,
                "last_entry_no": 0,
                "key_id": 1,
                "credential": "",
                "issued_at": now,
                "revoke_reason": "",
            }
            for gate_index in range(gates)
            for seq in range(1, scans + 1)
            if admitted(seq)
        ]
        session.execute(insert(Ticket), tickets)


def serve_bridge(
    url: str,
    broker_url: str,
    share_group: str,
    ready: EventLike,
    stop: EventLike,
    stored: Synchronized[int],
    checkins: Synchronized[int],
) -> None:
    """One server instance: the real bridge, every thread of it, until ``stop``, in a process
    tuned as ``admit server`` tunes its own (:mod:`server.process`); reports its counters
    through shared memory (the bench reads no database while it runs)."""
    import_all_models()
    shorten_gil_switch_interval()
    database = Database.connect(url)
    settings = FleetSettings(
        mqtt_bridge=True,
        mqtt_url=broker_url,
        mqtt_root=ROOT,
        mqtt_client_id=f"bench-server-{uuid.uuid4().hex[:6]}",
        mqtt_share_group=share_group,
    )
    bridge = FleetBridge(database, settings, clock=lambda: datetime.now(UTC)).start()
    freeze_startup_objects()
    if bridge.wait_connected(10):
        ready.set()
    while not stop.wait(POLL_SECONDS):
        stored.value = bridge.metrics.count(metrics.SCANS_STORED)
        checkins.value = bridge.metrics.count(metrics.CHECKINS_RECORDED)
    bridge.stop()
    database.dispose()


@dataclass(frozen=True)
class BridgeResult:
    stored_rate: float
    acked_rate: float | None
    checkins_seconds: float | None
    rows: int
    distinct: int
    gates_at_watermark: int
    #: Check-in log rows, and how many of them counted an entry (every admission should).
    checkin_rows: int
    entries_counted: int


def bridge_run(
    context: multiprocessing.context.SpawnContext,
    broker: PrivateMosquitto,
    url: str,
    gates: int,
    scans: int,
    publishers: int,
    bridges: int,
) -> BridgeResult:
    total = gates * scans
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    database = Database.connect(url)
    seed(database, gates, scans)
    share_group = f"bench{uuid.uuid4().hex[:6]}"
    stop = context.Event()
    instances = []
    for _ in range(bridges):
        ready = context.Event()
        stored: Synchronized[int] = context.Value("q", 0)
        checkins: Synchronized[int] = context.Value("q", 0)
        process = context.Process(
            target=serve_bridge,
            args=(url, broker.url, share_group, ready, stop, stored, checkins),
            daemon=True,
        )
        process.start()
        instances.append((process, ready, stored, checkins))
    for _, ready, _, _ in instances:
        if not ready.wait(60):
            raise RuntimeError("a bridge did not connect")
    time.sleep(SETTLE_SECONDS)  # subscriptions confirmed
    load = run_publishers(context, broker.port, gates, scans, publishers, expect_acks=True)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while sum(i[2].value for i in instances) < total and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    stored_elapsed = time.monotonic() - load.started
    acked = load.all_acked_at()
    # Every scan, rejections included, becomes one row of the check-in log.
    while sum(i[3].value for i in instances) < total and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    checkins_done = time.monotonic()
    load.join()
    stop.set()
    for process, _, _, _ in instances:
        process.join(30)
    with database.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(GateScan)) or 0
        pairs = GateScan.gate_id.concat(":").concat(GateScan.scan_id)
        distinct = session.scalar(select(func.count(func.distinct(pairs)))) or 0
        pending = session.scalar(
            select(func.count()).select_from(GateScan).where(GateScan.checkin_pending)
        )
        checkin_rows = session.scalar(select(func.count()).select_from(CheckinRecord)) or 0
        counted = (
            session.scalar(
                select(func.count())
                .select_from(CheckinRecord)
                .where(CheckinRecord.entry_no.is_not(None))
            )
            or 0
        )
        at_watermark = (
            session.scalar(
                select(func.count()).select_from(Gate).where(Gate.ack_watermark == scans)
            )
            or 0
        )
    database.dispose()
    return BridgeResult(
        stored_rate=total / stored_elapsed,
        acked_rate=None if acked is None else total / (acked - load.started),
        checkins_seconds=None if pending else checkins_done - load.started,
        rows=int(rows),
        distinct=int(distinct),
        gates_at_watermark=int(at_watermark),
        checkin_rows=int(checkin_rows),
        entries_counted=int(counted),
    )


def postgres_url() -> str | None:
    """A fresh schema on the bench PostgreSQL, or None when none answers."""
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


def postgres_version() -> str:
    engine = make_engine(os.environ.get("ADMIT_BENCH_DATABASE_URL", LOCAL_POSTGRES))
    with engine.connect() as connection:
        version = str(connection.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return version


def drop_schema(url: str) -> None:
    base, _, options = url.partition("options=-csearch_path%3D")
    engine = make_engine(base.rstrip("?&"))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{options}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gates", type=int, default=50)
    parser.add_argument("--scans", type=int, default=400, help="scans per gate")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument(
        "--bridges", type=int, nargs="+", default=[1, 2], help="server processes per run"
    )
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
        help="which databases to run the bridge against",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="play every run this many times, a bare run before each round (medians reported:"
        " on a shared machine the ceiling moves)",
    )
    args = parser.parse_args()
    import_all_models()
    context = multiprocessing.get_context("spawn")
    total = args.gates * args.scans
    print(f"machine: {describe_machine()} (shared with everything else running)")
    with tempfile.TemporaryDirectory() as workdir:
        broker = PrivateMosquitto(Path(workdir))
        try:
            print(
                f"broker: {mosquitto_version()}, private, persistence off, limits of "
                f"deploy/mosquitto/mosquitto.conf: {'; '.join(broker.limits)}"
            )
            pg = postgres_url()
            databases = [f"SQLite {sqlite3.sqlite_version} (file, WAL)"]
            if pg:
                databases.append(f"PostgreSQL {postgres_version()}")
                drop_schema(pg)
            print(f"databases: {', '.join(databases)}")
            print(
                f"load: {args.gates} gates x {args.scans} scans = {total} scan events, QoS 1, "
                f"{args.publishers} publisher processes; MQTT 5 shared subscription, "
                f"Receive Maximum {RECEIVE_MAXIMUM}\n"
            )
            targets = [("SQLite", "sqlite")] if "sqlite" in args.databases else []
            if "postgresql" in args.databases:
                if pg:
                    targets.append(("PostgreSQL", "postgresql"))
                else:
                    print("PostgreSQL: not reachable, skipped")
            # (label, database kind, bridge processes); SQLite serialises writers, so several
            # instances are a PostgreSQL deployment.
            runs = [
                (f"bridge x{bridges} -> {name}", kind, bridges)
                for name, kind in targets
                for bridges in (args.bridges if kind == "postgresql" else [1])
            ]
            bares: list[float] = []
            #: per run label: (result, index of the bare run just before it) per round
            results: dict[str, list[tuple[BridgeResult, int]]] = {label: [] for label, _, _ in runs}
            for round_no in range(1, args.rounds + 1):
                bares.append(bare_run(context, broker, args.gates, args.scans, args.publishers))
                print(f"round {round_no}: {'bare paho subscriber':<28} {bares[-1]:>8,.0f} events/s")
                for label, kind, bridges in runs:
                    url = postgres_url() if kind == "postgresql" else None
                    url = url or f"sqlite:///{workdir}/bench-{uuid.uuid4().hex[:6]}.sqlite3"
                    try:
                        result = bridge_run(
                            context, broker, url, args.gates, args.scans, args.publishers, bridges
                        )
                    finally:
                        if kind == "postgresql":
                            drop_schema(url)
                    results[label].append((result, len(bares) - 1))
                    print(
                        f"round {round_no}: {label:<28} {result.stored_rate:>8,.0f} events/s stored"
                    )
            bares.append(bare_run(context, broker, args.gates, args.scans, args.publishers))
            print(f"{'bare paho subscriber, last':<37} {bares[-1]:>8,.0f} events/s")
        finally:
            broker.stop()
    print(
        f"\nceiling: the bare subscriber right before and right after each bridge run, the higher"
        f" ({min(bares):,.0f}..{max(bares):,.0f} events/s over {len(bares)} runs); figures are"
        f" medians over {args.rounds} round(s)\n"
    )
    header = (
        f"{'path':<34} {'stored/s':>9} {'of bare':>8} {'acked/s':>9} {'check-ins':>10}  "
        "rows / distinct; gates whose watermark reached the end; check-in log rows / entries"
    )
    print(header)
    rejections = args.gates * sum(not admitted(seq) for seq in range(1, args.scans + 1))
    for label, rounds in results.items():
        ratios = [r.stored_rate / max(bares[i], bares[i + 1]) for r, i in rounds]
        stored = statistics.median(r.stored_rate for r, _ in rounds)
        acked_rates = [r.acked_rate for r, _ in rounds if r.acked_rate is not None]
        acked = f"{statistics.median(acked_rates):,.0f}" if len(acked_rates) == len(rounds) else "-"
        caught_up = [r.checkins_seconds for r, _ in rounds if r.checkins_seconds is not None]
        checkins = f"{statistics.median(caught_up):.1f} s" if len(caught_up) == len(rounds) else "-"
        ok = all(r.rows == total == r.distinct and r.acked_rate is not None for r, _ in rounds)
        logged = all(r.checkin_rows == total == r.entries_counted + rejections for r, _ in rounds)
        last = rounds[-1][0]
        print(
            f"{label:<34} {stored:>9,.0f} {statistics.median(ratios):>8.0%} "
            f"{acked:>9} {checkins:>10}  {last.rows} / {last.distinct} / "
            f"{'ok' if ok else 'MISMATCH'}; {last.gates_at_watermark} of {args.gates}; "
            f"{last.checkin_rows} / {last.entries_counted}{'' if logged else ' MISMATCH'}"
        )
    print(
        "\nstored/s: until the last scan is committed; acked/s: until every gate heard a ScanAck"
        " for each of its scans; check-ins: until the check-in log caught up (all from the first"
        " publish); every scan is one log row and every admission one counted entry."
        " ok: every scan stored once and acknowledged. The watermark is a shortcut: with"
        " two instances a batch that sees a gap left by the other's open transaction stops its"
        " walk, and the scan ids acknowledge those scans instead."
    )


if __name__ == "__main__":
    main()
