"""Counters of the MQTT bridge, read by ``GET /api/v1/fleet/metrics``.

Every message the bridge receives ends in exactly one outcome counter, so a malformed or forged
message is visible in the figures even though it never stops the bridge.
"""

from __future__ import annotations

import threading
from collections import Counter

#: Outcome names (one per received message) and activity counters.
RECEIVED = "received"
SCANS_STORED = "scans_stored"
SCANS_DUPLICATE = "scans_duplicate"
#: new scans stamped later than the bridge received them (beyond ``CLOCK_AHEAD_TOLERANCE_MS``):
#: the gate's clock runs ahead (the check-in log takes the receipt time as the scan's)
SCANS_CLOCK_AHEAD = "scans_clock_ahead"
STATUSES = "statuses"
RESULTS = "command_results"
TELEMETRY = "telemetry"
MALFORMED = "malformed"
FOREIGN_TOPIC = "foreign_topic"
TOPIC_MISMATCH = "topic_mismatch"
UNKNOWN_GATE = "unknown_gate"
UNKNOWN_COMMAND = "unknown_command"
ACKS_SENT = "acks_sent"
BATCHES = "batches"
STORE_ERRORS = "store_errors"
COMMANDS_SENT = "commands_sent"
LIST_UPDATES_SENT = "list_updates_sent"
ANNOUNCES_SENT = "announces_sent"
CATCHUPS_SENT = "catchups_sent"
CATCHUPS_LIMITED = "catchups_limited"
#: gates behind that another server instance answers (it claimed them first)
CATCHUPS_ANSWERED_ELSEWHERE = "catchups_answered_elsewhere"
CHECKINS_RECORDED = "checkins_recorded"
STAFF_ADMISSIONS_SENT = "staff_admissions_sent"
#: staff admissions resent to gates whose status showed they lack them (catch-up)
STAFF_ADMISSIONS_RESENT = "staff_admissions_resent"
CONNECTS = "connects"
DISCONNECTS = "disconnects"

ALL = (
    RECEIVED,
    SCANS_STORED,
    SCANS_DUPLICATE,
    SCANS_CLOCK_AHEAD,
    STATUSES,
    RESULTS,
    TELEMETRY,
    MALFORMED,
    FOREIGN_TOPIC,
    TOPIC_MISMATCH,
    UNKNOWN_GATE,
    UNKNOWN_COMMAND,
    ACKS_SENT,
    BATCHES,
    STORE_ERRORS,
    COMMANDS_SENT,
    LIST_UPDATES_SENT,
    ANNOUNCES_SENT,
    CATCHUPS_SENT,
    CATCHUPS_LIMITED,
    CATCHUPS_ANSWERED_ELSEWHERE,
    CHECKINS_RECORDED,
    STAFF_ADMISSIONS_SENT,
    STAFF_ADMISSIONS_RESENT,
    CONNECTS,
    DISCONNECTS,
)


class BridgeMetrics:
    """Thread-safe counters (paho's network thread and the ingest thread both count)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def count(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: self._counts[name] for name in ALL}
