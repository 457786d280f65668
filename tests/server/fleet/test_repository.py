"""The bridge's per-batch gate progress: one statement for every gate, and it only moves
forward, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.db import Database
from server.fleet import repository as repo
from server.fleet.models import Gate
from tests.server.fleet.helpers import FleetWorld

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _progress(gate_id: int, watermark: int, seen: int, last_scan: int | None) -> dict[str, Any]:
    return {
        "gate_id": gate_id,
        "watermark": watermark,
        "seen_at": T0 + timedelta(seconds=seen),
        "last_scan_at": None if last_scan is None else T0 + timedelta(seconds=last_scan),
    }


def _state(database: Database, gate_id: int) -> tuple[int, datetime | None, datetime | None]:
    with database.sessions() as session:
        gate = session.get_one(Gate, gate_id)
        return gate.ack_watermark, gate.last_seen_at, gate.last_scan_at


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    updates=st.lists(
        st.tuples(
            st.integers(0, 50), st.integers(0, 100), st.one_of(st.none(), st.integers(0, 100))
        ),
        min_size=1,
        max_size=8,
    )
)
def test_progress_of_several_batches_keeps_the_highest_watermark_and_last_scan(
    world: FleetWorld, database: Database, updates: list[tuple[int, int, int | None]]
) -> None:
    """Batches may commit in any order (two server instances): whatever order the updates come
    in, the watermark and the last scan time end at their maxima, the other gate is untouched
    by this one's rows, and ``last_seen_at`` is the last batch's."""
    first, second = world.gate(f"g-{uuid.uuid4().hex[:8]}"), world.gate(f"g-{uuid.uuid4().hex[:8]}")
    for watermark, seen, last_scan in updates:
        with database.sessions.begin() as session:
            repo.record_scan_progress(
                session,
                [
                    _progress(first["id"], watermark, seen, last_scan),
                    _progress(second["id"], watermark // 2, seen, None),
                ],
            )
    scans = [last for _, _, last in updates if last is not None]
    assert _state(database, first["id"]) == (
        max(w for w, _, _ in updates),
        T0 + timedelta(seconds=updates[-1][1]),
        None if not scans else T0 + timedelta(seconds=max(scans)),
    )
    assert _state(database, second["id"])[0] == max(w // 2 for w, _, _ in updates)
    assert _state(database, second["id"])[2] is None


def test_two_instances_storing_scans_of_the_same_gates_never_deadlock(
    world: FleetWorld, database: Database
) -> None:
    """Two server instances store batches for the same gates at once: each batch inserts its
    scans (whose foreign key share-locks the gates) and then moves every gate's progress. The
    progress lock must not conflict with those share locks, or the two deadlock."""
    gates = [world.gate(f"g-{uuid.uuid4().hex[:8]}")["id"] for _ in range(6)]
    merchant_id = world.shop.merchant.merchant_id
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def instance(name: str, order: list[int]) -> None:
        try:
            start.wait()
            for batch in range(15):
                with database.sessions.begin() as session:
                    rows = [_scan_row(merchant_id, gate_id, f"{name}-{batch}") for gate_id in order]
                    repo.insert_scans(session, rows)
                    repo.record_scan_progress(
                        session,
                        [_progress(gate_id, batch, batch, batch) for gate_id in sorted(order)],
                    )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=instance, args=("a", gates)),
        threading.Thread(target=instance, args=("b", gates[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert all(_state(database, gate_id)[0] == 14 for gate_id in gates)


def _scan_row(merchant_id: int, gate_id: int, scan_id: str) -> dict[str, Any]:
    at = T0
    return {
        "merchant_id": merchant_id,
        "gate_id": gate_id,
        "scan_id": scan_id,
        "seq": 1,
        "scanned_at": at,
        "received_at": at,
        "offline": False,
        "direction": "in",
        "decision": "rejected",
        "reason": "already_used",
        "ticket_id": None,
        "event_id": None,
        "code_hash": None,
        "entry_no": None,
        "annuls": None,
        "checkin_pending": False,
    }
