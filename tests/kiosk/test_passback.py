"""Entry counting and anti-passback: the pure rules, and scenarios across gates via gossip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.decision import decide
from kiosk.passback import entries_used, judge
from kiosk.policy import GatePolicy
from kiosk.store import GossipAdmission, KioskStore, LedgerEntry
from protocol import reasons
from tests.kiosk.test_decision import NOW_MS, make_store, ticket


def row(
    gate: str, direction: str, at_ms: int, entry_no: int | None = None, source: str = "local"
) -> LedgerEntry:
    return LedgerEntry("t:1", gate, direction, at_ms, entry_no, None, source, False)


def gate_policy(gate: str = "north-1", **overrides: object) -> GatePolicy:
    return GatePolicy(gate_id=gate, site="expo-hall", **overrides)  # type: ignore[arg-type]


def test_entries_are_summed_over_gates() -> None:
    ledger = [
        row("north-1", "in", 1),
        row("north-1", "out", 2),
        row("north-1", "in", 3),
        row("south-2", "in", 4, entry_no=1, source="gossip"),
        row("south-2", "in", 5, entry_no=2, source="gossip"),
        row("east-3", "in", 6, entry_no=1, source="gossip"),
    ]
    assert entries_used(ledger) == 2 + 2 + 1


def test_echoed_own_gossip_is_not_counted_twice() -> None:
    ledger = [row("north-1", "in", 1), row("north-1", "in", 1, entry_no=1, source="gossip")]
    assert entries_used(ledger) == 1


def test_first_entry() -> None:
    verdict = judge([], gate_policy(), "in", 1, NOW_MS)
    assert verdict.allowed and verdict.entry_no == 1 and verdict.reason is None


def test_timed_window_across_the_site() -> None:
    ledger = [row("south-2", "in", NOW_MS - 10_000, entry_no=1, source="gossip")]
    inside_window = judge(ledger, gate_policy(window_seconds=30), "in", 0, NOW_MS)
    assert inside_window.reason == reasons.PASSBACK and "south-2" in inside_window.detail
    assert judge(ledger, gate_policy(window_seconds=5), "in", 0, NOW_MS).allowed


def test_exit_rules() -> None:
    nothing: list[LedgerEntry] = []
    assert judge(nothing, gate_policy(), "out", 1, NOW_MS).allowed
    assert (
        judge(nothing, gate_policy(anti_passback="hard"), "out", 1, NOW_MS).reason
        == reasons.PASSBACK
    )
    soft = judge(nothing, gate_policy(anti_passback="soft"), "out", 1, NOW_MS)
    assert soft.allowed and soft.flag
    inside = [row("north-1", "in", 1)]
    assert judge(inside, gate_policy(anti_passback="hard"), "out", 1, NOW_MS).allowed


def test_reentry_counts_as_a_further_entry() -> None:
    ledger = [row("north-1", "in", 1), row("north-1", "out", 2)]
    verdict = judge(ledger, gate_policy(), "in", 1, NOW_MS)
    assert verdict.allowed and verdict.entry_no == 2


@pytest.fixture
def north(tmp_path: Path) -> Iterator[KioskStore]:
    with make_store(tmp_path / "north.db") as store:
        yield store


@pytest.fixture
def south(tmp_path: Path) -> Iterator[KioskStore]:
    with make_store(tmp_path / "south.db") as store:
        yield store


def scan_and_gossip(
    at: KioskStore,
    gate: str,
    others: list[KioskStore],
    text: str,
    now_ms: int,
    scan_id: str,
    **kw: object,
) -> bool:
    """One gate decides and records; the others hear its admission as the link would relay it."""
    gate_rules = gate_policy(gate, **kw)
    decision = decide(text, at.view(), gate_rules, now_ms, True)
    at.record_scan(decision.record(scan_id, gate, now_ms), b"{}")
    if decision.admitted and decision.ticket_key is not None:
        used = at.entries_used_at(decision.ticket_key, gate)
        for other in others:
            other.record_gossip(
                GossipAdmission(gate, decision.ticket_key, decision.direction, now_ms, used)
            )
    return decision.admitted


def test_single_entry_ticket_used_at_another_gate(north: KioskStore, south: KioskStore) -> None:
    assert scan_and_gossip(north, "north-1", [south], ticket(), NOW_MS, "n1")
    again = decide(ticket(), south.view(), gate_policy("south-2"), NOW_MS + 5000, True)
    assert again.reason == reasons.ALREADY_USED


def test_multi_entry_ticket_counts_all_gates(north: KioskStore, south: KioskStore) -> None:
    text = ticket(entries=3)
    assert scan_and_gossip(north, "north-1", [south], text, NOW_MS, "n1")
    assert scan_and_gossip(south, "south-2", [north], text, NOW_MS + 1000, "s1")
    assert scan_and_gossip(north, "north-1", [south], text, NOW_MS + 2000, "n2")
    assert not scan_and_gossip(south, "south-2", [north], text, NOW_MS + 3000, "s2")
    assert (
        decide(text, north.view(), gate_policy(), NOW_MS + 4000, True).reason
        == reasons.ALREADY_USED
    )


def test_hard_passback_across_gates_until_the_exit(north: KioskStore, south: KioskStore) -> None:
    text = ticket(entries=0)
    rules = {"anti_passback": "hard"}
    assert scan_and_gossip(north, "north-1", [south], text, NOW_MS, "n1", **rules)
    refused = decide(text, south.view(), gate_policy("south-2", **rules), NOW_MS + 60_000, True)
    assert refused.reason == reasons.PASSBACK
    north_exit = gate_policy("north-1", direction="out", **rules)
    out = decide(text, north.view(), north_exit, NOW_MS + 120_000, True)
    assert out.admitted
    north.record_scan(out.record("n2", "north-1", NOW_MS + 120_000), b"{}")
    south.record_gossip(GossipAdmission("north-1", "t:100234", "out", NOW_MS + 120_000, 1))
    assert decide(
        text, south.view(), gate_policy("south-2", **rules), NOW_MS + 180_000, True
    ).admitted


def test_timed_window_across_gates(north: KioskStore, south: KioskStore) -> None:
    text = ticket(entries=0)
    assert scan_and_gossip(north, "north-1", [south], text, NOW_MS, "n1", window_seconds=600)
    rules = gate_policy("south-2", window_seconds=600)
    assert decide(text, south.view(), rules, NOW_MS + 300_000, True).reason == reasons.PASSBACK
    assert decide(text, south.view(), rules, NOW_MS + 600_000, True).admitted


def test_annulled_admission_gossip_frees_the_ticket(north: KioskStore, south: KioskStore) -> None:
    assert scan_and_gossip(north, "north-1", [south], ticket(), NOW_MS, "n1")
    north.annul_admission("n1")
    south.record_gossip(
        GossipAdmission(
            "north-1", "t:100234", "in", NOW_MS + 8000, north.entries_used_at("t:100234", "north-1")
        )
    )
    assert decide(ticket(), south.view(), gate_policy("south-2"), NOW_MS + 9000, True).admitted
    assert decide(ticket(), north.view(), gate_policy(), NOW_MS + 9000, True).admitted
