"""The kiosk's health figures, published periodically as ``telemetry`` (SPEC.md).

:class:`TelemetryRecorder` is written to by the scan loop (scans decided, decode times) and the
network worker (connects), and read by the worker when a ``telemetry`` message is due. Counts
are since the kiosk started; the decode median is over the last :data:`DECODE_WINDOW` decodes.
Thread-safe; the clock is passed in.

:class:`HostProbe` adds the machine's own health, which the staff dashboard judges
(``server/dashboard/health.py``): CPU temperature, free disk where the store lives and
available memory. Each figure comes from one small reader whose file path is a parameter, so
tests point it at a file of their own. A reader answers None when it cannot read a figure (no
such file off Linux or on a board without the sensor, no permission, content it does not
recognise) and the figure is left out of the message: the dashboard then has no such figure
for the gate, never a made-up one, and nothing here ever raises into the network worker.
"""

from __future__ import annotations

import math
import shutil
import statistics
import threading
from collections import deque
from pathlib import Path

from kiosk.clock import GateClock

#: decode times kept for the median
DECODE_WINDOW = 1000

#: The SoC's temperature on a Raspberry Pi (and most Linux boards), in millidegrees Celsius.
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
#: The kernel's memory figures (Linux); ``MemAvailable`` since Linux 3.14.
MEMINFO = Path("/proc/meminfo")

#: A reading outside this range is a sensor fault (drivers report -273150 or 2**31 on errors),
#: not a temperature; the chip's own rating is -40..85 °C and it throttles from 80 °C.
TEMP_RANGE_C = (-60.0, 150.0)
#: Bytes read at most from a figure file: the real ones are a few bytes (thermal) or ~1.5 kB
#: (meminfo); a path pointing at something else must not make the worker read it all.
_READ_LIMIT = 64 * 1024
_MB = 1024 * 1024


def _read_text(path: Path) -> str | None:
    try:
        with open(path, "rb") as file:
            return file.read(_READ_LIMIT).decode("ascii")
    except (OSError, ValueError):  # missing, a directory, no permission, not text
        return None


def parse_thermal(text: str) -> float | None:
    """°C (one decimal) from a thermal zone's ``temp`` (whole millidegrees, ``"48312\\n"``)."""
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
        return None
    celsius = int(text) / 1000
    low, high = TEMP_RANGE_C
    return round(celsius, 1) if low <= celsius <= high else None


def parse_meminfo(text: str) -> int | None:
    """Whole MB of ``MemAvailable`` (memory the kernel can hand out without swapping) from
    ``/proc/meminfo``. None without that line: ``MemFree`` is a different, much smaller figure
    and would raise false alarms, so it is not used in its place."""
    for line in text.splitlines():
        name, colon, rest = line.partition(":")
        if name != "MemAvailable" or not colon:
            continue
        parts = rest.split()
        if len(parts) != 2 or parts[1] != "kB" or not (parts[0].isascii() and parts[0].isdigit()):
            return None
        return int(parts[0]) * 1024 // _MB
    return None


def cpu_temp_c(path: Path = THERMAL_ZONE) -> float | None:
    """The CPU temperature in °C, or None when it cannot be read."""
    text = _read_text(path)
    return None if text is None else parse_thermal(text)


def mem_free_mb(path: Path = MEMINFO) -> int | None:
    """Available memory in whole MB, or None when it cannot be read."""
    text = _read_text(path)
    return None if text is None else parse_meminfo(text)


def disk_figures(total: int, free: int) -> dict[str, int | float] | None:
    """``disk_free_mb`` (whole MB) and ``disk_free_pct`` (one decimal) of a file system of
    ``total`` bytes with ``free`` available; None for figures no file system has."""
    if total <= 0 or free < 0 or free > total:
        return None
    return {"disk_free_mb": free // _MB, "disk_free_pct": round(free * 100 / total, 1)}


def disk_free(path: Path) -> dict[str, int | float] | None:
    """Free space of the file system holding ``path`` (or its nearest existing parent: the
    store's file may not exist yet), as :func:`disk_figures`; None when it cannot be read.

    "Free" is what an unprivileged process may still write (``statvfs``' ``f_bavail``, which
    :func:`shutil.disk_usage` reports on POSIX), not the blocks reserved for root: the kiosk
    does not run as root, and its SQLite writes fail when this reaches zero."""
    try:
        where = path.absolute()
        while not where.exists() and where != where.parent:
            where = where.parent
        usage = shutil.disk_usage(where)
    except (OSError, ValueError):
        return None
    return disk_figures(usage.total, usage.free)


class HostProbe:
    """Reads the machine's health figures on demand (each read is a few small file reads)."""

    def __init__(
        self, store_path: Path, thermal_path: Path = THERMAL_ZONE, meminfo_path: Path = MEMINFO
    ) -> None:
        self.store_path = Path(store_path)
        self.thermal_path = thermal_path
        self.meminfo_path = meminfo_path

    def metrics(self) -> dict[str, int | float]:
        """``cpu_temp_c``, ``disk_free_mb``, ``disk_free_pct``, ``mem_free_mb``: those that
        could be read."""
        figures: dict[str, int | float] = {}
        temperature = cpu_temp_c(self.thermal_path)
        if temperature is not None:
            figures["cpu_temp_c"] = temperature
        figures.update(disk_free(self.store_path) or {})
        memory = mem_free_mb(self.meminfo_path)
        if memory is not None:
            figures["mem_free_mb"] = memory
        return figures


class TelemetryRecorder:
    """Counters and recent decode times of one kiosk run, plus the machine's figures when
    given a :class:`HostProbe` and the report interval when given ``interval_s`` (the server
    judges staleness by it: a gate that reports every 5 min is not late after 3 min)."""

    def __init__(
        self,
        started: float,
        *,
        interval_s: float | None = None,
        host: HostProbe | None = None,
        clock: GateClock | None = None,
    ) -> None:
        if interval_s is not None and not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"interval_s must be a positive number of seconds, not {interval_s}")
        self._started = started
        self._interval_s = interval_s
        self._host = host
        self._clock = clock
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
        if self._interval_s is not None:
            figures["interval_s"] = self._interval_s
        if self._clock is not None:
            # how far the system clock lags what the server's messages showed (0: it does not)
            figures["clock_behind_ms"] = self._clock.behind_ms()
        if self._host is not None:  # file reads: outside the lock the scan loop takes
            figures.update(self._host.metrics())
        return figures
