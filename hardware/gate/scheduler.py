"""Timers for the gate, behind one small interface so tests can move time by hand.

The gate never sleeps: it asks a :class:`Scheduler` to call it back later. On the kiosk that is
a :class:`ThreadScheduler` (one worker thread); in tests a :class:`ManualScheduler` whose clock only
moves when the test calls :meth:`ManualScheduler.advance`, so "relay still on at 0.49 s, off at
0.5 s" is asserted exactly, without real sleeps.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

Callback = Callable[[], None]


class TimerHandle:
    """A callback scheduled for later; :meth:`cancel` stops it from running."""

    __slots__ = ("_cancelled", "callback", "due")

    def __init__(self, due: float, callback: Callback) -> None:
        self.due = due
        self.callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled


class Scheduler(Protocol):
    """Runs callbacks after a delay (seconds). Callbacks may run on another thread."""

    def call_later(self, delay: float, callback: Callback) -> TimerHandle: ...


class _TimerQueue:
    """Timers ordered by due time, ties broken by the order they were scheduled."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._sequence = itertools.count()

    def push(self, handle: TimerHandle) -> None:
        heapq.heappush(self._heap, (handle.due, next(self._sequence), handle))

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop(self) -> TimerHandle:
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return sum(1 for _, _, handle in self._heap if not handle.cancelled)


def _run(handle: TimerHandle) -> None:
    """Run one callback; a failing callback is logged and never stops the other timers."""
    try:
        handle.callback()
    except Exception:
        log.exception("gate timer callback %r failed", handle.callback)


class ManualScheduler:
    """A scheduler for tests: time stands still until :meth:`advance` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._queue = _TimerQueue()

    @property
    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        handle = TimerHandle(self._now + max(0.0, delay), callback)
        self._queue.push(handle)
        return handle

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``; see :meth:`advance_to`."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move the clock to ``when``, running every callback due by then, in order.

        While a callback runs, :attr:`now` is its due time, so timers it schedules are placed
        relative to that moment and also run if they fall inside the window. Tests that check a
        boundary use this absolute form: summing small float steps drifts (0.09 + 0.01 < 0.1).
        """
        if when < self._now:
            raise ValueError("time cannot go backwards")
        while True:
            due = self._queue.next_due()
            if due is None or due > when:
                break
            handle = self._queue.pop()
            self._now = max(self._now, handle.due)
            _run(handle)
        self._now = when

    @property
    def pending(self) -> int:
        """How many callbacks are scheduled and not cancelled."""
        return len(self._queue)


class ThreadScheduler:
    """The kiosk's scheduler: one daemon thread runs callbacks at their due time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._queue = _TimerQueue()
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="gate-scheduler", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        handle = TimerHandle(self._clock() + max(0.0, delay), callback)
        with self._condition:
            if self._closed:
                raise RuntimeError("scheduler is closed")
            self._queue.push(handle)
            self._condition.notify()
        return handle

    def close(self) -> None:
        """Stop the worker; callbacks not yet due are dropped."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._condition:
                while True:
                    if self._closed:
                        return
                    due = self._queue.next_due()
                    if due is not None and due <= self._clock():
                        handle = self._queue.pop()
                        break
                    timeout = None if due is None else due - self._clock()
                    self._condition.wait(timeout)
            if not handle.cancelled:
                _run(handle)
