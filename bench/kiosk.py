"""Kiosk figures: decoded text -> relay on (with the durable write), and allowlist sync.

    python bench/kiosk.py [--scans N] [--entries N] [--dir DIR]

(a) N scans of distinct signed tickets through the real path: ``decide`` over the store
    view, ``KioskStore.record_scan`` (ledger + outbox, one transaction, synchronous=FULL),
    then ``hardware.gate.Gate.admit`` on gpiozero's MockFactory, until the relay pin reads
    high. p50 / p99 of the whole and of each step. Goal: p99 ≤ 5 ms. The WAL is
    checkpointed every 100 scans outside the timing, as an idle kiosk does; raw fsync
    latency of the same disk is printed beside it, since it is the floor of a durable write.
(b) An allowlist of N hashed codes (default 1,000,000) with ticket facts, as the server
    sends it (snapshot chunks of 20,000): full apply (goal ≤ 10 s); a 1,000-entry delta
    (500 removed, 500 added; goal ≤ 100 ms); a lookup of a code hash (goal ≤ 50 µs), and a
    typed code decided end to end. Message decoding is the link's and is not timed.
The store lives in DIR (default: a temporary directory), so its disk is the one measured.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine_info import describe_machine

from hardware.gate.config import GateConfig
from hardware.gate.gate import Gate, PassageOutcome
from hardware.gate.scheduler import ManualScheduler
from hardware.pins import make_pin_factory
from kiosk.decision import Decision, decide
from kiosk.lists import ApplyResult, apply_update
from kiosk.policy import GatePolicy
from kiosk.store import KioskStore
from protocol import codes, messages
from protocol.allowlist import ListDigest, hash_code
from protocol.credential import TicketClaims
from protocol.signing import Keyring, SigningKey, sign_ticket

SITE = "expo-hall"
GATE = "north-1"
SALT = "bench-salt"
NOW_MS = 1_748_772_000_000
CHUNK = 20_000


def percentiles(samples_ns: list[int]) -> str:
    ordered = sorted(samples_ns)
    p50 = statistics.median(ordered) / 1e6
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   max {ordered[-1] / 1e6:7.3f} ms"


def scan_payload(decision: Decision, scan_id: str, now_ms: int) -> Callable[[int], bytes]:
    """The outbox payload builder ``record_scan`` calls with the scan's ``seq``."""

    def build(seq: int) -> bytes:
        message = decision.scan_message(
            scan_id=scan_id, gate=GATE, seq=seq, scanned_at=now_ms, ts=now_ms
        )
        return messages.encode(message)

    return build


def fsync_floor(directory: Path, samples: int = 1000) -> str:
    """Latency of appending 4 KiB and fsyncing it: what one durable commit costs at least."""
    path = directory / "fsync.probe"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times: list[int] = []
    try:
        for _ in range(samples):
            os.write(descriptor, b"x" * 4096)
            start = time.perf_counter_ns()
            os.fsync(descriptor)
            times.append(time.perf_counter_ns() - start)
    finally:
        os.close(descriptor)
        path.unlink()
    return percentiles(times)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_scans(directory: Path, scans: int) -> None:
    key = SigningKey.generate(1)
    texts = [
        sign_ticket(
            TicketClaims(
                ticket_id=1_000_000 + n,
                event_id=17,
                zone=1,
                valid_from=NOW_MS // 1000 - 3600,
                valid_until=NOW_MS // 1000 + 3600,
                entries=1,
                key_id=1,
            ),
            key,
        )
        for n in range(scans)
    ]
    store = KioskStore(directory / "scans.db")
    keyring = Keyring()
    keyring.add(1, key.public_key_text())
    store.set_trusted_keys(keyring)
    policy = GatePolicy(gate_id=GATE, site=SITE, event_ids=frozenset({17}), zones=frozenset({1}))
    factory = make_pin_factory("mock")
    scheduler = ManualScheduler()
    outcomes: list[PassageOutcome] = []
    config = GateConfig(pin_factory="mock")
    relay = factory.pin(config.relay_pin)
    whole: list[int] = []
    deciding: list[int] = []
    recording: list[int] = []
    opening: list[int] = []
    with Gate(config, factory, scheduler, lambda _token, outcome: outcomes.append(outcome)) as gate:
        view = store.view()
        for number, text in enumerate(texts):
            now_ms = NOW_MS + number * 10
            scan_id = f"{GATE}.{number:08d}"
            start = time.perf_counter_ns()
            decision = decide(text, view, policy, now_ms, True)

            decided = time.perf_counter_ns()
            store.record_scan(
                decision.record(scan_id, GATE, now_ms), scan_payload(decision, scan_id, now_ms)
            )
            recorded = time.perf_counter_ns()
            gate.admit(scan_id)
            opened = time.perf_counter_ns()
            if not (decision.admitted and relay.state):
                raise SystemExit(f"scan {number} did not open the relay: {decision}")
            whole.append(opened - start)
            deciding.append(decided - start)
            recording.append(recorded - decided)
            opening.append(opened - recorded)
            scheduler.advance(config.passage_timeout + 1)  # nobody walks: the gate frees itself
            if number % 100 == 99:
                store.checkpoint()  # as the kiosk does between scans when idle
    store.close()
    print(f"(a) decoded text -> relay on, {scans} scans (goal p99 ≤ 5 ms)")
    print(f"    whole path       {percentiles(whole)}")
    print(f"    decide           {percentiles(deciding)}")
    print(f"    record_scan      {percentiles(recording)}")
    print(f"    gate.admit       {percentiles(opening)}")
    print(f"    raw fsync (disk) {fsync_floor(directory)}")


def allowlist_chunks(entries: list[str], version: int) -> list[messages.ListUpdate]:
    digest = ListDigest.of(entries).hex()
    chunks = (len(entries) + CHUNK - 1) // CHUNK
    updates = []
    for index in range(chunks):
        part = entries[index * CHUNK : (index + 1) * CHUNK]
        meta: dict[str, object] = {
            entry: {"ticket_id": index * CHUNK + n, "event_id": 17, "zone": 1, "entries": 1}
            for n, entry in enumerate(part)
        }
        updates.append(
            messages.ListUpdate(
                list="allowlist",
                site=SITE,
                scope=17,
                snapshot=True,
                from_version=0,
                to_version=version,
                add=part,
                remove=[],
                digest=digest,
                chunk=index,
                chunks=chunks,
                meta=meta,
                ts=NOW_MS,
            )
        )
    return updates


def bench_allowlist(directory: Path, count: int) -> None:
    rng = random.Random(42)
    typed = [codes.new_code(rng.randrange(codes.CODE_SPACE)) for _ in range(1000)]
    entries = [hash_code(code, SALT) for code in typed]
    entries += [f"{rng.getrandbits(128):032x}" for _ in range(count - len(entries))]
    print(f"\n(b) allowlist of {count:,} entries (building messages, not timed)...", flush=True)
    updates = allowlist_chunks(entries, 1)
    store = KioskStore(directory / "lists.db")
    store.set_setting("code_salt", SALT)
    results: list[ApplyResult] = []
    elapsed = timed(lambda: results.extend(apply_update(store, update) for update in updates))
    if results[-1].outcome != "applied":
        raise SystemExit(f"snapshot not applied: {results[-1]}")
    print(f"    full apply ({len(updates)} chunks)        {elapsed:8.2f} s    (goal ≤ 10 s)")

    removed = rng.sample(entries, 500)
    added = [f"{rng.getrandbits(128):032x}" for _ in range(500)]
    after = ListDigest.from_hex(store.list_version("allowlist").digest)
    for entry in removed:
        after.remove(entry)
    for entry in added:
        after.add(entry)
    delta = messages.ListUpdate(
        list="allowlist",
        site=SITE,
        scope=17,
        snapshot=False,
        from_version=1,
        to_version=2,
        add=added,
        remove=removed,
        digest=after.hex(),
        chunk=0,
        chunks=1,
        meta={entry: {"ticket_id": 9_000_000 + n, "event_id": 17} for n, entry in enumerate(added)},
        ts=NOW_MS,
    )
    outcome: list[ApplyResult] = []
    elapsed = timed(lambda: outcome.append(apply_update(store, delta)))
    print(
        f"    1,000-entry delta              {elapsed * 1000:8.2f} ms   (goal ≤ 100 ms)"
        f" {outcome[0].outcome}"
    )

    probes = [rng.choice(entries) for _ in range(50_000)]
    view = store.view()
    lookups: list[int] = []
    for probe in probes:
        start = time.perf_counter_ns()
        view.allowlist_entry(probe)
        lookups.append(time.perf_counter_ns() - start)
    lookups.sort()
    print(
        f"    lookup                         {statistics.median(lookups) / 1000:8.2f} µs p50"
        f"  {lookups[int(len(lookups) * 0.99)] / 1000:.2f} µs p99   (goal ≤ 50 µs)"
    )
    policy = GatePolicy(gate_id=GATE, site=SITE)
    still_listed = [code for code in typed if hash_code(code, SALT) not in set(removed)]
    decisions: list[int] = []
    for code in still_listed:
        start = time.perf_counter_ns()
        decision = decide(code, view, policy, NOW_MS, True)
        decisions.append(time.perf_counter_ns() - start)
        if not decision.admitted:
            raise SystemExit(f"typed code refused: {decision}")
    print(f"    typed code decided             {percentiles(decisions)}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scans", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="where the bench stores live (default: temp)")
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        print(f"store directory: {directory}\n")
        bench_scans(Path(directory), args.scans)
        bench_allowlist(Path(directory), args.entries)


if __name__ == "__main__":
    main()
