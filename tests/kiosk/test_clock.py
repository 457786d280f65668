"""The gate's clock: the system clock, raised to the lower bound of the true time that the
server's messages give, and never above the true time for it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.clock import GateClock

TRUE_START = 1_790_000_000_000  # 2026-09, epoch ms


@dataclass
class World:
    """The true time, a monotonic clock and a system clock that is off by ``skew`` ms."""

    monotonic: int = 5_000
    skew: int = 0

    def true_ms(self) -> int:
        return TRUE_START + self.monotonic

    def wall_ms(self) -> int:
        return self.true_ms() + self.skew

    def monotonic_ms(self) -> int:
        return self.monotonic

    def clock(self, floor_ms: int = 0, tolerance_ms: int = 2_000) -> GateClock:
        return GateClock(
            floor_ms=floor_ms,
            tolerance_ms=tolerance_ms,
            wall_ms=self.wall_ms,
            monotonic_ms=self.monotonic_ms,
        )


def test_a_correct_system_clock_is_used_as_it_is() -> None:
    world = World()
    clock = world.clock()
    clock.heard_server_time(world.true_ms() - 40)
    world.monotonic += 1_000
    assert clock.now_ms() == world.wall_ms()
    assert clock.behind_ms() == 0


def test_a_clock_behind_the_server_is_raised_to_what_the_server_showed() -> None:
    world = World(skew=-3 * 86_400_000)  # booted offline three days behind
    clock = world.clock()
    assert clock.now_ms() == world.wall_ms()  # nothing heard yet: nothing to go by
    assert clock.heard_server_time(world.true_ms() - 50)
    world.monotonic += 60_000  # a minute later, with no network
    assert clock.now_ms() == world.true_ms() - 50
    assert clock.behind_ms() == 3 * 86_400_000 - 50


def test_a_small_lag_within_the_tolerance_is_left_to_ntp() -> None:
    world = World(skew=-1_500)
    clock = world.clock(tolerance_ms=2_000)
    clock.heard_server_time(world.true_ms())
    assert clock.now_ms() == world.wall_ms()
    assert clock.behind_ms() == 0


def test_once_ntp_sets_the_clock_the_system_clock_is_used_again() -> None:
    world = World(skew=-86_400_000)
    clock = world.clock()
    clock.heard_server_time(world.true_ms())
    world.monotonic += 10_000
    world.skew = 0
    assert clock.now_ms() == world.wall_ms()


def test_an_older_message_does_not_lower_the_bound() -> None:
    world = World(skew=-86_400_000)
    clock = world.clock()
    assert clock.heard_server_time(world.true_ms())
    assert not clock.heard_server_time(world.true_ms() - 3_600_000)  # a retained announce
    assert clock.floor_ms() == world.true_ms()


def test_the_saved_floor_holds_across_a_restart() -> None:
    world = World(skew=-86_400_000)
    before = world.clock()
    before.heard_server_time(world.true_ms())
    saved = before.floor_ms()
    # Off for an hour, then restarted with a monotonic clock that starts again near zero.
    world.monotonic = 1_000 + 3_600_000
    restarted = GateClock(
        floor_ms=saved, wall_ms=world.wall_ms, monotonic_ms=lambda: world.monotonic - 3_600_000
    )
    assert saved <= restarted.floor_ms() <= world.true_ms()
    assert restarted.now_ms() == saved


def test_a_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        GateClock(tolerance_ms=-1)


_steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3_600_000),  # time passing
        st.one_of(st.none(), st.integers(min_value=0, max_value=30_000)),  # a message's delay
        st.integers(min_value=-30 * 86_400_000, max_value=86_400_000),  # the clock's skew then
    ),
    max_size=30,
)


@given(_steps, st.integers(min_value=0, max_value=10_000))
def test_the_gate_time_is_never_behind_the_system_clock_nor_ahead_of_the_truth_for_it(
    steps: list[tuple[int, int | None, int]], tolerance: int
) -> None:
    """The bound never passes the true time, and the gate's time is the system clock unless
    the system clock is behind the bound: so a correction never puts the gate ahead."""
    world = World()
    clock = world.clock(tolerance_ms=tolerance)
    for elapsed, delay, skew in steps:
        world.monotonic += elapsed
        world.skew = skew
        if delay is not None:
            clock.heard_server_time(world.true_ms() - delay)
        floor = clock.floor_ms()
        now = clock.now_ms()
        assert floor <= world.true_ms()
        assert now >= world.wall_ms()
        assert now >= floor - tolerance
        if now != world.wall_ms():
            assert now == floor <= world.true_ms()
