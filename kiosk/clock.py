"""The gate's clock: the system clock, never behind what the server has shown us.

A Raspberry Pi has no battery-backed clock. Booted without network it starts from the time
saved at its last shutdown (fake-hwclock) or from 1970, and runs behind until NTP answers,
which an offline gate may never get. A gate that judges with a clock running behind keeps right
tickets out (``not_yet_valid``), lets tickets in after their window closed, and stamps its scans
with times the server takes for the past.

Every message the server sends carries its send time (``ts``), and that time had passed when the
message arrived. So, with the monotonic clock (which counts real elapsed time and never jumps),
``ts + (monotonic now - monotonic at arrival)`` is a *lower bound* of the true time now.
:meth:`GateClock.now_ms` answers the system clock, or that bound when the system clock is behind
it by more than ``tolerance_ms``: the gate's time can be late by at most the time it has heard
nothing from the server, instead of by however wrong the system clock is.

The bound outlives restarts: :meth:`GateClock.floor_ms` is saved (the store's
``clock_floor_ms`` setting, see :mod:`kiosk.app`), and after a restart the true time is at least
that floor plus the time since the process started (the unknown time the gate was off only
makes the bound lower, never wrong).

Only the server's messages count: a peer gate's ``ts`` comes from a clock that may be wrong too.
A system clock running *ahead* is not corrected (nothing the gate hears bounds the true time
from above); :meth:`GateClock.behind_ms` reports the correction in the gate's status so the
operator can see a gate whose clock needs NTP.

Pure: both clocks are passed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: The system clock may lag the bound this much before the bound is used: the bound itself runs
#: behind the true time by the messages' delivery time, and NTP slews small errors anyway.
DEFAULT_TOLERANCE_MS = 2_000
#: The setting the bound is saved under in the kiosk store.
FLOOR_SETTING = "clock_floor_ms"


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class GateClock:
    """The gate's time in epoch milliseconds (:meth:`now_ms`), raised to the lower bound of the
    true time that the server's messages give when the system clock is behind it."""

    def __init__(
        self,
        *,
        floor_ms: int = 0,
        tolerance_ms: int = DEFAULT_TOLERANCE_MS,
        wall_ms: Callable[[], int] = _wall_ms,
        monotonic_ms: Callable[[], int] = _monotonic_ms,
    ) -> None:
        if tolerance_ms < 0:
            raise ValueError("tolerance_ms must not be negative")
        self._wall_ms = wall_ms
        self._monotonic_ms = monotonic_ms
        self._tolerance_ms = tolerance_ms
        self._lock = threading.Lock()
        # The bound is ``self._base_ms + monotonic now``; a saved floor counts from now.
        self._base_ms = max(0, int(floor_ms)) - monotonic_ms()

    def heard_server_time(self, ts_ms: int) -> bool:
        """The server sent a message at ``ts_ms`` (its ``ts``) that has just arrived. True when
        that raised the bound."""
        base = int(ts_ms) - self._monotonic_ms()
        with self._lock:
            if base <= self._base_ms:
                return False
            self._base_ms = base
            return True

    def floor_ms(self) -> int:
        """The lower bound of the true time now (0 when nothing is known)."""
        with self._lock:
            return max(0, self._base_ms + self._monotonic_ms())

    def now_ms(self) -> int:
        """The system clock, or the lower bound when the system clock is behind it by more
        than the tolerance."""
        wall = self._wall_ms()
        floor = self.floor_ms()
        return floor if wall < floor - self._tolerance_ms else wall

    def behind_ms(self) -> int:
        """How far behind the lower bound the system clock is now (0 when it is not behind by
        more than the tolerance): what :meth:`now_ms` corrects."""
        wall = self._wall_ms()
        floor = self.floor_ms()
        return floor - wall if wall < floor - self._tolerance_ms else 0
