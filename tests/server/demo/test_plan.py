"""Visitor queues: every kind shows up early on every kiosk, nothing is shown twice except on
purpose, and a ticket comes back only on the kiosk that admitted it, well after."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.demo.plan import (
    AGAIN_AFTER,
    EXPECTED_REASON,
    Kind,
    Pass,
    PlannedScan,
    ScanPools,
    build_plans,
    originals,
)


def pools(size: int = 30) -> ScanPools:
    return ScanPools(
        valid=[Pass(f"VALID{n}", f"{n:012d}") for n in range(size * 5)],
        checked_at_counter=[f"COUNTER{n}" for n in range(size)],
        refunded=[f"REFUNDED{n}" for n in range(size)],
        vip=[f"VIP{n}" for n in range(size)],
        unknown_key=[f"UNKNOWN{n}" for n in range(size)],
        wrong_key=[f"WRONG{n}" for n in range(size)],
        one_character=[f"CHAR{n}" for n in range(size)],
    )


def test_every_kiosk_starts_with_a_tour_of_every_kind() -> None:
    plans = build_plans(pools(), 3, random.Random(1))
    tour_length = len(Kind) - 1 + AGAIN_AFTER
    for plan in plans:
        assert {scan.kind for scan in plan[:tour_length]} == set(Kind)


@given(seed=st.integers(0, 10_000), kiosks=st.integers(1, 5), size=st.integers(0, 12))
def test_pool_items_are_shown_once_and_used_again_only_after_an_admission(
    seed: int, kiosks: int, size: int
) -> None:
    plans = build_plans(pools(size), kiosks, random.Random(seed))
    assert len(plans) == kiosks
    first_showings = Counter(
        scan.text for plan in plans for scan in plan if scan.kind is not Kind.USED_AGAIN
    )
    assert all(count == 1 for count in first_showings.values())
    assert len(first_showings) == size * 11
    for plan in plans:
        for again, original in originals(plan).items():
            assert original < again
            assert plan[original].kind is Kind.VALID
            assert plan[original].text == plan[again].text


def test_typed_codes_are_typed_and_everything_has_an_expected_reason() -> None:
    plans = build_plans(pools(), 2, random.Random(5))
    scans = [scan for plan in plans for scan in plan]
    assert all(scan.typed == (scan.kind is Kind.TYPED_CODE) for scan in scans)
    assert {scan.expected_reason for scan in scans} == set(EXPECTED_REASON.values())


def test_the_same_seed_gives_the_same_queues() -> None:
    assert build_plans(pools(), 2, random.Random(9)) == build_plans(pools(), 2, random.Random(9))


def test_originals_points_at_the_first_showing() -> None:
    plan = [
        PlannedScan(Kind.VALID, "A"),
        PlannedScan(Kind.REFUNDED, "B"),
        PlannedScan(Kind.USED_AGAIN, "A"),
    ]
    assert originals(plan) == {2: 0}


def test_no_kiosks_is_refused() -> None:
    with pytest.raises(ValueError):
        build_plans(pools(), 0, random.Random(1))
