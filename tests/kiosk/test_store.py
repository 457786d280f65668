"""The kiosk store: schema, the durable scan write, outbox, ledger, settings and keys."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.store import MIGRATIONS, GossipAdmission, KioskStore, ScanRecord, StoreError
from protocol.signing import Keyring, SigningKey

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KioskStore]:
    with KioskStore.open(tmp_path / "kiosk.db") as opened:
        yield opened


def admitted(
    scan_id: str, ticket_key: str = "t:1", at_ms: int = 1000, direction: str = "in"
) -> ScanRecord:
    return ScanRecord(scan_id, "north-1", direction, at_ms, True, ticket_key, 1)


def test_new_store_is_migrated_to_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    with KioskStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        journal = store.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert journal == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with KioskStore(path) as again:
        assert again.schema_version() == len(MIGRATIONS)


def test_store_from_a_newer_kiosk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="schema"):
        KioskStore(path)


def test_record_scan_writes_ledger_and_outbox(store: KioskStore) -> None:
    seq = store.record_scan(admitted("s1"), b'{"scan":1}')
    assert seq == 1
    assert [row.scan_id for row in store.admissions("t:1")] == ["s1"]
    assert store.outbox_peek(0, 10)[0].payload == b'{"scan":1}'


def test_rejected_scan_goes_to_the_outbox_only(store: KioskStore) -> None:
    store.record_scan(ScanRecord("s1", "north-1", "in", 1000, False, "t:1", None), b"{}")
    assert store.admissions("t:1") == []
    assert store.outbox_depth() == 1


def test_duplicate_scan_id_writes_nothing(store: KioskStore) -> None:
    store.record_scan(admitted("s1"), b"{}")
    with pytest.raises(sqlite3.IntegrityError):
        store.record_scan(admitted("s1", ticket_key="t:2"), b"{}")
    assert store.admissions("t:2") == [] and store.outbox_depth() == 1


def test_payload_builder_gets_the_seq(store: KioskStore) -> None:
    store.record_scan(admitted("s1"), b"first")
    store.outbox_ack(["s1"])
    seq = store.record_scan(admitted("s2"), lambda n: f"seq={n}".encode())
    assert seq == 2  # never reused after a delete
    assert store.outbox_peek(0, 10)[0].payload == b"seq=2"


def test_outbox_order_ack_and_watermark(store: KioskStore) -> None:
    for number in range(1, 8):
        store.record_scan(admitted(f"s{number}", ticket_key=f"t:{number}", at_ms=number), b"x")
    assert [row.seq for row in store.outbox_peek(2, 3)] == [3, 4, 5]
    assert store.outbox_ack(["s4", "s4", "nope"]) == 1
    assert store.outbox_ack_through(3) == 3
    assert [row.scan_id for row in store.outbox_peek(0, 100)] == ["s5", "s6", "s7"]
    assert (store.outbox_depth(), store.outbox_oldest_ms()) == (3, 5)
    store.outbox_ack_through(100)
    assert (store.outbox_depth(), store.outbox_oldest_ms()) == (0, None)


def test_annul_admission(store: KioskStore) -> None:
    store.record_scan(admitted("s1"), b"{}")
    annulled = store.annul_admission("s1", ("s2", 2000, b"annul"))
    assert annulled is not None and annulled.annulled and annulled.scan_id == "s1"
    assert store.admissions("t:1") == []
    assert [row.scan_id for row in store.admissions("t:1", include_annulled=True)] == ["s1"]
    assert [row.payload for row in store.outbox_peek(0, 10)] == [b"{}", b"annul"]
    assert store.annul_admission("s1", ("s3", 3000, b"again")) is None
    assert store.outbox_depth() == 2


def test_entries_used_at_a_gate(store: KioskStore) -> None:
    store.record_scan(admitted("s1"), b"{}")
    store.record_scan(admitted("s2", at_ms=2000), b"{}")
    store.record_scan(admitted("s3", at_ms=3000, direction="out"), b"{}")
    store.annul_admission("s2")
    assert store.entries_used_at("t:1", "north-1") == 1


def test_gossip_is_recorded_once_and_annulments_apply(store: KioskStore) -> None:
    heard = GossipAdmission("south-2", "t:1", "in", 1000, 1)
    assert store.record_gossip(heard)
    assert not store.record_gossip(heard)
    assert store.record_gossip(GossipAdmission("south-2", "t:1", "in", 1000, 0))
    assert store.admissions("t:1") == []


def test_stale_gossip_does_not_annul(store: KioskStore) -> None:
    store.record_gossip(GossipAdmission("south-2", "t:1", "in", 2000, 2))
    store.record_gossip(GossipAdmission("south-2", "t:1", "in", 1000, 1))
    assert sorted(row.entry_no or 0 for row in store.admissions("t:1")) == [1, 2]


def test_recent_and_prune(store: KioskStore) -> None:
    store.record_scan(admitted("s1", at_ms=1000), b"{}")
    store.record_scan(admitted("s2", ticket_key="t:2", at_ms=5000), b"{}")
    assert [row.scan_id for row in store.recent_admissions(10)] == ["s2", "s1"]
    assert store.prune_admissions(2000) == 1
    assert [row.scan_id for row in store.recent_admissions(10)] == ["s2"]


def test_settings_and_mode(store: KioskStore) -> None:
    assert store.get_setting("missing", "d") == "d"
    store.set_setting("language", "en")
    store.set_setting("language", "zh-CN")
    assert store.get_setting("language") == "zh-CN"
    assert store.view().mode() == "normal"
    store.set_mode("locked")
    assert store.view().mode() == "locked"


def test_trusted_keys(store: KioskStore) -> None:
    first, second = SigningKey.from_seed(1, b"\x01" * 32), SigningKey.from_seed(2, b"\x02" * 32)
    keyring = Keyring()
    keyring.add(1, first.public_key_text())
    store.set_trusted_keys(keyring)
    assert list(store.trusted_keys()) == [1]
    store.add_trusted_key("2", second.public_key_text())
    assert list(store.view().keyring()) == [1, 2]
    store.retire_key(1)
    assert list(store.trusted_keys()) == [2] and store.trusted_keys().is_retired(1)
    assert store.trusted_keys().to_dict() == {"1": None, "2": second.public_key_text()}


def test_list_version_of_an_unknown_list(store: KioskStore) -> None:
    with pytest.raises(ValueError, match="unknown list"):
        store.list_version("blocklist")


_CRASHER = textwrap.dedent(
    """
    import sys, time
    from kiosk.store import KioskStore, ScanRecord
    store = KioskStore(sys.argv[1])
    store.record_scan(ScanRecord("durable", "north-1", "in", 1, True, "t:1", 1), b"payload")
    print("recorded", flush=True)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO outbox (scan_id, payload, created_ms) VALUES ('uncommitted', 'x', 2)"
        )
        print("writing", flush=True)
        time.sleep(60)
    """
)


def test_recorded_scan_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    process = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "recorded"
        assert process.stdout.readline().strip() == "writing"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    with KioskStore(path) as reopened:
        assert [row.scan_id for row in reopened.outbox_peek(0, 10)] == ["durable"]
        assert [row.scan_id for row in reopened.admissions("t:1")] == ["durable"]


def test_store_at_an_older_schema_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.execute("INSERT INTO settings (key, value) VALUES ('mode', 'locked')")
    conn.commit()
    conn.close()
    with KioskStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert store.view().mode() == "locked"


# --- the staff chain: staff_seq ------------------------------------------------------------------


def staff(seq: int, prev: int, ticket: int = 1, at_ms: int = 1000) -> GossipAdmission:
    """A numbered admission of the server's pseudo-gate ``_staff``."""
    return GossipAdmission("_staff", f"t:{ticket}", "in", at_ms, 1, seq=seq, prev=prev)


def test_staff_seq_follows_the_chain_and_stays_before_a_hole(store: KioskStore) -> None:
    assert store.staff_seq() == 0
    assert store.record_gossip(staff(5, 0, ticket=1))
    assert store.staff_seq() == 5
    # 7 never came: 9 is recorded (it counts at once) but the watermark stays at 5
    assert store.record_gossip(staff(9, 7, ticket=3))
    assert [row.gate for row in store.admissions("t:3")] == ["_staff"]
    assert store.staff_seq() == 5
    # the server resends from 5: 7, then 9 again (already held: the ledger keeps one row)
    assert store.record_gossip(staff(7, 5, ticket=2))
    assert store.staff_seq() == 7
    assert not store.record_gossip(staff(9, 7, ticket=3))
    assert store.staff_seq() == 9
    assert len(store.admissions("t:3")) == 1
    # an old one again, or one already passed, moves nothing back
    store.record_gossip(staff(5, 0, ticket=1))
    assert store.staff_seq() == 9


def test_a_prev_at_or_below_the_watermark_continues_the_chain(store: KioskStore) -> None:
    """Two check-ins committed out of id order: 12 was gossiped naming 10 as its predecessor
    before 11 committed; holding 11 already, the gate still holds everything up to 12."""
    store.record_gossip(staff(10, 0))
    store.record_gossip(staff(11, 10, ticket=2))
    store.record_gossip(staff(12, 10, ticket=3))
    assert store.staff_seq() == 12


def test_only_numbered_staff_admissions_move_the_watermark(store: KioskStore) -> None:
    store.record_gossip(GossipAdmission("south-2", "t:1", "in", 1000, 1))
    store.record_gossip(GossipAdmission("_staff", "t:2", "in", 1000, 1))  # an older server
    assert store.staff_seq() == 0


def test_a_batch_is_recorded_in_seq_order(store: KioskStore) -> None:
    heard = [staff(30, 20, ticket=3), GossipAdmission("south-2", "t:9", "in", 5, 1)]
    heard += [staff(20, 10, ticket=2), staff(10, 0, ticket=1)]
    assert store.record_gossips(heard) == 4
    assert store.staff_seq() == 30
    store.reset_staff_seq()
    assert store.staff_seq() == 0
    assert len(store.admissions("t:3")) == 1, "starting the chain over forgets nothing"


@given(
    chain=st.lists(st.integers(1, 10_000), min_size=1, max_size=12, unique=True).map(sorted),
    data=st.data(),
)
def test_staff_seq_never_passes_a_staff_admission_the_gate_lacks(
    tmp_path_factory: pytest.TempPathFactory, chain: list[int], data: st.DataObject
) -> None:
    """Whatever arrives (any order, any lost, any repeated), every link of the chain up to the
    watermark is in the ledger; and the chain delivered in order, once, ends at its last."""
    links = [staff(seq, prev, ticket=seq) for prev, seq in zip([0, *chain], chain, strict=False)]
    arrivals = data.draw(st.lists(st.sampled_from(links), max_size=30))
    with KioskStore(tmp_path_factory.mktemp("chain") / "kiosk.db") as chained:
        held: set[int | None] = set()
        for link in arrivals:
            chained.record_gossip(link)
            held.add(link.seq)
            assert all(seq in held for seq in chain if seq <= chained.staff_seq())
        chained.reset_staff_seq()
        chained.record_gossips(reversed(links))
        assert chained.staff_seq() == chain[-1]
