"""The same code held in front of the camera is one scan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.debounce import Debouncer


def test_same_code_within_the_window_is_one_scan() -> None:
    debouncer = Debouncer(window_ms=3000)
    assert debouncer.accept("A", 0)
    assert not debouncer.accept("A", 100)
    assert not debouncer.accept("A", 2999)


def test_window_slides_while_the_code_stays_in_view() -> None:
    debouncer = Debouncer(window_ms=3000)
    assert debouncer.accept("A", 0)
    for now in range(1000, 20_000, 1000):
        assert not debouncer.accept("A", now)
    assert debouncer.accept("A", 19_000 + 3000)


def test_different_codes_pass_at_once() -> None:
    debouncer = Debouncer()
    assert debouncer.accept("A", 0)
    assert debouncer.accept("B", 1)
    assert not debouncer.accept("A", 2)


def test_memory_is_bounded() -> None:
    debouncer = Debouncer(window_ms=10_000, max_codes=4)
    for number in range(100):
        debouncer.accept(str(number), number)
    assert len(debouncer) == 4
    debouncer.accept("late", 1_000_000)
    assert len(debouncer) == 1


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        Debouncer(window_ms=-1)
    with pytest.raises(ValueError):
        Debouncer(max_codes=0)


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 500)), max_size=60))
def test_a_code_passes_exactly_when_unseen_for_the_window(steps: list[tuple[str, int]]) -> None:
    debouncer = Debouncer(window_ms=1000)
    last_seen: dict[str, int] = {}
    now = 0
    for text, gap in steps:
        now += gap
        expected = text not in last_seen or now - last_seen[text] >= 1000
        assert debouncer.accept(text, now) == expected
        last_seen[text] = now
