"""The kiosk's health figures, published periodically as ``telemetry`` (SPEC.md).

:class:`TelemetryRecorder` is written to by the scan loop (scans decided, decode times) and the
network worker (connects), and read by the worker when a ``telemetry`` message is due. Counts
are since the kiosk started; the decode median is over the last :data:`DECODE_WINDOW` decodes.
Thread-safe; the clock is passed in.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque

#: decode times kept for the median
DECODE_WINDOW = 1000


class TelemetryRecorder:
    """Counters and recent decode times of one kiosk run."""

    def __init__(self, started: float) -> None:
        self._started = started
        self._lock = threading.Lock()
        self._decided = 0
        self._admitted = 0
        self._connects = 0
        self._decode_ms: deque[float] = deque(maxlen=DECODE_WINDOW)

    def scan_decided(self, admitted: bool) -> None:
        with self._lock:
            self._decided += 1
            self._admitted += admitted

    def decoded(self, ms: float) -> None:
        """One frame decoded (with or without codes) in ``ms`` milliseconds."""
        with self._lock:
            self._decode_ms.append(ms)

    def connected(self) -> None:
        with self._lock:
            self._connects += 1

    def metrics(self, outbox_depth: int, now: float) -> dict[str, int | float]:
        """The ``metrics`` object of a ``telemetry`` message (names in lower snake case)."""
        with self._lock:
            figures: dict[str, int | float] = {
                "scans_decided": self._decided,
                "scans_admitted": self._admitted,
                "scans_rejected": self._decided - self._admitted,
                "outbox_depth": outbox_depth,
                "link_reconnects": max(0, self._connects - 1),
                "uptime_s": round(max(0.0, now - self._started), 1),
            }
            if self._decode_ms:
                figures["decode_ms_p50"] = round(statistics.median(self._decode_ms), 2)
        return figures
