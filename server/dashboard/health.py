"""Is a gate healthy? The rules over its latest telemetry, in one pure function.

:func:`assess` takes what the server keeps per gate (``Gate.telemetry``: the kiosk's latest
``telemetry`` metrics, name -> number; ``Gate.telemetry_at``: when the server got them) and the
time now, and answers a :class:`GateHealth`: every metric with its unit and level, the issues
(metrics out of their healthy range, telemetry stale or missing) and the gate's overall level.
The thresholds live in :data:`RULES` and :func:`staleness` (with :data:`STALE_AFTER` /
:data:`DEAD_AFTER` for a gate that does not say how often it reports), nowhere else: the page,
its live stream and the JSON endpoint all go through here.

Kiosks send whatever metrics they have (SPEC.md: up to 64, lower snake case). A metric without a
rule is shown but never warned about; its unit comes from its name (:func:`unit_of`: ``_c``
°C, ``_ms`` ms, ``_mb`` MB, ``_pct`` %, ``_s`` seconds), so ``cpu_temp_c`` or ``decode_ms_p99``
read well before anyone writes a rule for them. Values that are not finite numbers (the column
is JSON; the bridge validates, but a row may come from elsewhere) are left out, never raised on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Level(StrEnum):
    """How a metric or a gate is doing. ``unknown``: no telemetry to judge by."""

    UNKNOWN = "unknown"
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"


#: Worse levels sort higher; a gate is as bad as its worst issue.
SEVERITY: Mapping[Level, int] = {Level.UNKNOWN: 0, Level.OK: 1, Level.WARN: 2, Level.CRITICAL: 3}


class Unit(StrEnum):
    """A metric's unit; :data:`COUNT` is a plain number."""

    COUNT = ""
    CELSIUS = "°C"
    MILLISECONDS = "ms"
    MEGABYTES = "MB"
    PERCENT = "%"
    SECONDS = "s"


@dataclass(frozen=True)
class Rule:
    """Healthy range of one metric: ``warn`` and ``critical`` are the first unhealthy values
    (reached or passed upwards, or downwards when ``low_is_bad``); None: no such level."""

    warn: float | None = None
    critical: float | None = None
    low_is_bad: bool = False

    def level(self, value: float) -> tuple[Level, float | None]:
        """The level of ``value`` and the threshold it reached (None when healthy)."""
        for limit, level in ((self.critical, Level.CRITICAL), (self.warn, Level.WARN)):
            if limit is None:
                continue
            if (value <= limit) if self.low_is_bad else (value >= limit):
                return level, limit
        return Level.OK, None


#: The thresholds. Order here is the order on the page (metrics without a rule follow, by name).
RULES: Mapping[str, Rule] = {
    # A Raspberry Pi throttles its CPU from 80 °C (firmware default); 70 °C leaves time to act.
    "cpu_temp_c": Rule(warn=70, critical=80),
    # The camera delivers a frame every 33 ms at 30 fps; a median decode slower than that drops
    # frames, and at 100 ms visitors notice the wait (docs/decoding.md: ~3 ms on a PC core).
    "decode_ms_p50": Rule(warn=33, critical=100),
    "decode_ms_p99": Rule(warn=100, critical=300),
    # Scans decided but not yet acknowledged by the server: a few are normal, hundreds mean the
    # link or the server is behind, thousands that the gate has been cut off for a long time.
    "outbox_depth": Rule(warn=100, critical=1000),
    # The outbox and the local store are SQLite files: a full disk stops the gate recording.
    "disk_free_pct": Rule(warn=10, critical=5, low_is_bad=True),
    "disk_free_mb": Rule(warn=500, critical=100, low_is_bad=True),
    "mem_free_mb": Rule(warn=100, critical=30, low_is_bad=True),
    "uptime_s": Rule(),
    # The gate's own report interval: judged through staleness (below), not as a value.
    "interval_s": Rule(),
    "link_reconnects": Rule(),
    "scans_decided": Rule(),
    "scans_admitted": Rule(),
    "scans_rejected": Rule(),
}

#: Kiosks send telemetry every 60 s by default (``[telemetry] interval``) and say so in every
#: message (``interval_s``); a gate whose message lacks it (older kiosks) is assumed to use this.
DEFAULT_INTERVAL = timedelta(seconds=60)
#: The interval a gate reports is trusted within these bounds. Below 10 s (benches, tests), three
#: missed reports would be a network hiccup rather than a problem; above an hour, a gate would
#: go unwatched for most of a day (a garbage value must not silence the alarm either).
MIN_INTERVAL = timedelta(seconds=10)
MAX_INTERVAL = timedelta(hours=1)
#: Three missed reports make telemetry stale (warn): one lost message (QoS 0) is normal, three
#: in a row are not. Critical after fifteen missed reports or fifteen minutes, whichever is
#: later: a gate silent for a quarter of an hour needs someone whatever its interval, and a
#: gate that reports rarely gets fifteen chances before it is called dead.
STALE_REPORTS = 3
DEAD_REPORTS = 15
DEAD_AT_LEAST = timedelta(minutes=15)


def report_interval(telemetry: Mapping[str, object]) -> timedelta:
    """How often the gate says it reports (its ``interval_s``, within :data:`MIN_INTERVAL` ..
    :data:`MAX_INTERVAL`), or :data:`DEFAULT_INTERVAL` when it does not say (or says nonsense:
    not a finite number above 0)."""
    seconds = _finite(telemetry.get("interval_s"))
    if seconds is None or seconds <= 0:
        return DEFAULT_INTERVAL
    low, high = MIN_INTERVAL.total_seconds(), MAX_INTERVAL.total_seconds()
    return timedelta(seconds=min(max(seconds, low), high))  # clamped first: no overflow


def staleness(interval: timedelta) -> tuple[timedelta, timedelta]:
    """(stale, dead): the telemetry ages that make a gate reporting every ``interval`` warn and
    critical."""
    return STALE_REPORTS * interval, max(DEAD_REPORTS * interval, DEAD_AT_LEAST)


#: The limits of a gate on the default interval: 3 min and 15 min.
STALE_AFTER, DEAD_AFTER = staleness(DEFAULT_INTERVAL)

#: Issue codes that are not metric names.
NO_TELEMETRY = "no_telemetry"
TELEMETRY_STALE = "telemetry_stale"


@dataclass(frozen=True)
class MetricHealth:
    name: str
    value: float
    unit: Unit
    level: Level
    #: The threshold the value reached, when it is not healthy.
    limit: float | None = None


@dataclass(frozen=True)
class Issue:
    """Something staff should look at: a metric name, :data:`TELEMETRY_STALE` (``value`` and
    ``limit`` in seconds) or :data:`NO_TELEMETRY`."""

    code: str
    level: Level
    value: float | None = None
    limit: float | None = None
    unit: Unit = Unit.COUNT


@dataclass(frozen=True)
class GateHealth:
    level: Level
    metrics: tuple[MetricHealth, ...]
    issues: tuple[Issue, ...]
    #: Seconds since the server received the telemetry (None: never).
    age_s: float | None
    stale: bool


def unit_of(name: str) -> Unit:
    """The unit a metric name announces by its parts (``cpu_temp_c``, ``decode_ms_p99``)."""
    parts = name.split("_")
    if len(parts) < 2:
        return Unit.COUNT
    if "ms" in parts[1:]:
        return Unit.MILLISECONDS
    if "mb" in parts[1:]:
        return Unit.MEGABYTES
    if "pct" in parts[1:]:
        return Unit.PERCENT
    if parts[-1] == "c":
        return Unit.CELSIUS
    if parts[-1] == "s":
        return Unit.SECONDS
    return Unit.COUNT


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _order(name: str) -> tuple[int, str]:
    names = list(RULES)
    return (names.index(name), "") if name in RULES else (len(names), name)


def assess_metric(name: str, value: float) -> MetricHealth:
    level, limit = RULES.get(name, Rule()).level(value)
    return MetricHealth(name, value, unit_of(name), level, limit)


def assess(
    telemetry: Mapping[str, object] | None, telemetry_at: datetime | None, now: datetime
) -> GateHealth:
    """The health of one gate from its latest telemetry, judged at ``now``."""
    if telemetry_at is None or not isinstance(telemetry, Mapping):
        return GateHealth(Level.UNKNOWN, (), (Issue(NO_TELEMETRY, Level.UNKNOWN),), None, False)
    metrics = tuple(
        assess_metric(name, number)
        for name, value in sorted(telemetry.items(), key=lambda item: _order(str(item[0])))
        if isinstance(name, str) and (number := _finite(value)) is not None
    )
    issues = [
        Issue(m.name, m.level, m.value, m.limit, m.unit) for m in metrics if m.level != Level.OK
    ]
    age = max(timedelta(0), now - telemetry_at)
    stale_after, dead_after = staleness(report_interval(telemetry))
    stale = age >= stale_after
    if stale:
        limit = dead_after if age >= dead_after else stale_after
        issues.insert(
            0,
            Issue(
                TELEMETRY_STALE,
                Level.CRITICAL if age >= dead_after else Level.WARN,
                age.total_seconds(),
                limit.total_seconds(),
                Unit.SECONDS,
            ),
        )
    level = max((issue.level for issue in issues), key=SEVERITY.__getitem__, default=Level.OK)
    return GateHealth(level, metrics, tuple(issues), age.total_seconds(), stale)
