from __future__ import annotations

import threading

import pytest

from hardware.gate import ManualScheduler, ThreadScheduler


def test_manual_runs_due_callbacks_in_time_order() -> None:
    clock = ManualScheduler()
    ran: list[str] = []
    clock.call_later(2, lambda: ran.append("b"))
    clock.call_later(1, lambda: ran.append("a"))
    clock.call_later(2, lambda: ran.append("c"))
    clock.advance(1.5)
    assert ran == ["a"]
    clock.advance(0.5)
    assert ran == ["a", "b", "c"]
    assert clock.now == 2


def test_manual_runs_callbacks_scheduled_inside_the_window_at_their_own_time() -> None:
    clock = ManualScheduler()
    seen: list[float] = []

    def first() -> None:
        seen.append(clock.now)
        clock.call_later(1, lambda: seen.append(clock.now))

    clock.call_later(1, first)
    clock.advance(5)
    assert seen == [1, 2]


def test_manual_cancel_and_pending() -> None:
    clock = ManualScheduler()
    ran: list[int] = []
    handle = clock.call_later(1, lambda: ran.append(1))
    assert clock.pending == 1
    handle.cancel()
    assert clock.pending == 0
    clock.advance(2)
    assert ran == []


def test_manual_refuses_to_go_back() -> None:
    clock = ManualScheduler(start=10)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.advance_to(9)


def test_manual_failing_callback_does_not_stop_the_others() -> None:
    clock = ManualScheduler()
    ran: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    clock.call_later(1, boom)
    clock.call_later(1, lambda: ran.append(2))
    clock.advance(1)
    assert ran == [2]


def test_thread_scheduler_orders_by_due_time_and_honours_cancel() -> None:
    scheduler = ThreadScheduler()
    ran: list[str] = []
    done = threading.Event()

    def late() -> None:
        ran.append("late")
        done.set()

    try:
        cancelled = scheduler.call_later(0.05, lambda: ran.append("cancelled"))
        scheduler.call_later(0.1, late)
        scheduler.call_later(0.0, lambda: ran.append("early"))
        cancelled.cancel()
        assert done.wait(10)
    finally:
        scheduler.close()
    assert ran == ["early", "late"]


def test_thread_scheduler_survives_a_failing_callback_and_refuses_after_close() -> None:
    scheduler = ThreadScheduler()
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    scheduler.call_later(0, boom)
    scheduler.call_later(0, done.set)
    assert done.wait(10)
    scheduler.close()
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.call_later(0, done.set)
