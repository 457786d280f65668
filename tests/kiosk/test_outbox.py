"""The outbox drain over a real store, with a recording publisher and a hand-moved clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.outbox import OutboxDrain, scan_from_row, scan_payload
from kiosk.store import KioskStore, ScanRecord
from protocol import messages
from protocol.messages import MessageError

GATE = "north-1"
TOPIC = "admit/v1/expo-hall/gates/north-1/scans"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Publisher:
    """Records what the drain publishes; ``up`` False refuses like a disconnected client."""

    def __init__(self) -> None:
        self.sent: list[messages.Scan] = []
        self.up = True

    def __call__(self, topic: str, payload: bytes, qos: int) -> bool:
        assert topic == TOPIC and qos == 1
        if not self.up:
            return False
        scan = messages.decode(payload)
        assert isinstance(scan, messages.Scan)
        self.sent.append(scan)
        return True

    @property
    def seqs(self) -> list[int]:
        return [scan.seq for scan in self.sent]


def record(store: KioskStore, n: int) -> list[str]:
    ids = []
    for i in range(n):
        scan_id = f"{GATE}.{messages.new_id()}"
        payload = scan_payload(
            scan_id=scan_id,
            gate=GATE,
            scanned_at=1_000 + i,
            offline=True,
            direction="in",
            decision="rejected",
            reason="unknown_ticket",
            ticket_id=None,
            event_id=None,
            code_hash=None,
            entry_no=None,
        )
        record = ScanRecord(scan_id, GATE, "in", 1_000 + i, False, None, None)
        store.record_scan(record, payload)
        ids.append(scan_id)
    return ids


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    return KioskStore(tmp_path / "kiosk.db")


def make_drain(store: KioskStore, publish: Publisher, clock: Clock, window: int = 5) -> OutboxDrain:
    return OutboxDrain(
        store,
        publish,
        TOPIC,
        window=window,
        resend_after=10.0,
        clock=clock,
        wall_clock_ms=lambda: 5,
    )


def test_publishes_in_seq_order_within_the_window(store: KioskStore) -> None:
    record(store, 12)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    assert drain.pump() == 5
    assert publish.seqs == [1, 2, 3, 4, 5]
    assert drain.pump() == 0  # window full: nothing more until an ack
    assert store.outbox_depth() == 12


def test_rows_leave_only_on_the_servers_ack(store: KioskStore) -> None:
    ids = record(store, 6)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    drain.pump()
    assert store.outbox_depth() == 6  # published (PUBACK or not) is not stored
    assert drain.handle_ack([ids[1], ids[0]], 0) == 2
    assert store.outbox_depth() == 4
    drain.pump()
    assert publish.seqs == [1, 2, 3, 4, 5, 6]


def test_watermark_acknowledges_everything_up_to_it(store: KioskStore) -> None:
    record(store, 8)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    drain.pump()
    assert drain.handle_ack([], 4) == 4
    assert drain.stats.in_flight == 1
    drain.pump()
    assert publish.seqs == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [row.seq for row in store.outbox_peek(0, 10)] == [5, 6, 7, 8]


def test_unacknowledged_scans_are_sent_again_after_the_timeout(store: KioskStore) -> None:
    ids = record(store, 3)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    drain.pump()
    drain.handle_ack([ids[1]], 0)
    clock.now = 9.9
    drain.pump()
    assert publish.seqs == [1, 2, 3]
    assert drain.next_resend_in() == pytest.approx(0.1)
    clock.now = 10.0
    drain.pump()
    assert publish.seqs == [1, 2, 3, 1, 3]
    assert drain.stats.resent == 2
    assert [scan.scan_id for scan in publish.sent[-2:]] == [ids[0], ids[2]]


def test_a_refused_publish_is_retried_and_keeps_the_order(store: KioskStore) -> None:
    record(store, 4)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    publish.up = False
    assert drain.pump() == 0
    publish.up = True
    drain.pump()
    assert publish.seqs == [1, 2, 3, 4]


def test_a_new_drain_resumes_from_the_store(store: KioskStore, tmp_path: Path) -> None:
    ids = record(store, 4)
    first = Publisher()
    drain = make_drain(store, first, Clock())
    drain.pump()
    drain.handle_ack(ids[:2], 0)
    store.close()
    reopened = KioskStore(tmp_path / "kiosk.db")
    second = Publisher()
    make_drain(reopened, second, Clock()).pump()
    assert second.seqs == [3, 4]


def test_forget_in_flight_sends_everything_unacknowledged_again(store: KioskStore) -> None:
    record(store, 3)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    drain.pump()
    drain.forget_in_flight()
    drain.pump()
    assert publish.seqs == [1, 2, 3, 1, 2, 3]


def test_a_corrupt_row_stays_in_the_store_and_does_not_block_the_rest(store: KioskStore) -> None:
    record(store, 1)
    store.record_scan(ScanRecord("bad", GATE, "in", 1, False, None, None), b'{"gate": 5}')
    record(store, 1)
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock)
    drain.pump()
    assert publish.seqs == [1, 3]
    assert drain.stats.corrupt == 1
    assert store.outbox_depth() == 3


def test_scan_payload_refuses_a_scan_that_could_never_be_sent() -> None:
    with pytest.raises(MessageError):
        scan_payload(
            scan_id="x",
            gate=GATE,
            scanned_at=1,
            offline=False,
            direction="in",
            decision="admitted",
            reason="expired",  # admitted needs reason admitted
            ticket_id=None,
            event_id=None,
            code_hash=None,
            entry_no=None,
        )


def test_scan_from_row_restores_the_scan_with_its_seq(store: KioskStore) -> None:
    record(store, 1)
    row = store.outbox_peek(0, 1)[0]
    scan = scan_from_row(row, ts=77)
    assert (scan.seq, scan.ts, scan.scan_id, scan.reason) == (1, 77, row.scan_id, "unknown_ticket")
    assert json.loads(row.payload)["scan_id"] == row.scan_id


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["pump", "ack_some", "watermark", "tick", "down", "up", "record"]),
            st.integers(0, 6),
        ),
        max_size=60,
    )
)
def test_any_schedule_delivers_everything_and_deletes_only_acknowledged(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    """Whatever the order of pumps, acks, outages and new scans: the window is never exceeded,
    first publications follow seq order, a row is gone only after its ack, and once the
    link stays up and the server acks everything, the outbox empties."""
    store = KioskStore(tmp_path_factory.mktemp("drain") / "kiosk.db")
    publish, clock = Publisher(), Clock()
    drain = make_drain(store, publish, clock, window=4)
    acked: set[int] = set()
    record(store, 3)
    for action, n in steps:
        if action == "pump":
            drain.pump()
        elif action == "ack_some":
            chosen = [s for s in publish.sent if s.seq not in acked][:n]
            drain.handle_ack([s.scan_id for s in chosen], 0)
            acked.update(s.seq for s in chosen)
        elif action == "watermark" and publish.sent:
            # the server can only vouch for scans it received
            mark = min(max(publish.seqs), min(publish.seqs) + n)
            drain.handle_ack([], mark)
            acked.update(range(1, mark + 1))
        elif action == "tick":
            clock.now += 4.0 * n
        elif action == "down":
            publish.up = False
        elif action == "up":
            publish.up = True
        else:
            record(store, n % 3)
        assert drain.stats.in_flight <= 4
        remaining = {row.seq for row in store.outbox_peek(0, 1000)}
        assert not remaining & acked
    first_seen: list[int] = []
    for seq in publish.seqs:
        if seq not in first_seen:
            first_seen.append(seq)
    assert first_seen == sorted(first_seen)
    publish.up = True
    for _ in range(200):
        clock.now += 11.0
        drain.pump()
        drain.handle_ack([s.scan_id for s in publish.sent], 0)
        if store.outbox_depth() == 0:
            break
    assert store.outbox_depth() == 0
    store.close()
