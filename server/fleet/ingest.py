"""Store one batch of gate messages in one transaction and say what to acknowledge.

The bridge collects messages for a few milliseconds, calls :func:`store_batch` inside one
transaction, commits, and only then publishes the acks this returns: a kiosk deletes a scan
from its outbox on the ack, so an ack must never precede the commit. Scans are inserted with
"on conflict do nothing" on ``(gate_id, scan_id)``: a re-sent scan is stored once and
acknowledged again. Every new scan (admission, rejection or annulment) is stored with
``checkin_pending`` set; :mod:`server.fleet.checkins` records it in the check-in log right
after, off the acknowledgement path, so every gate check-in attempt is one row of that log.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from protocol.messages import (
    MAX_SCAN_IDS_PER_ACK,
    CommandResult,
    Message,
    Scan,
    ScanAck,
    Status,
    Telemetry,
)
from protocol.topics import TopicRef
from server.fleet import metrics
from server.fleet import repository as repo
from server.fleet.commands import apply_result
from server.fleet.live import LiveEvent
from server.fleet.models import EnrollmentState, Gate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound:
    """A decoded message whose topic matched its payload."""

    ref: TopicRef
    message: Message


@dataclass
class BatchOutcome:
    acks: list[tuple[str, str, ScanAck]] = field(default_factory=list)
    events: list[LiveEvent] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: New scans stored for :mod:`server.fleet.checkins` to record.
    checkins_pending: int = 0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A scan stamped later than its receipt by more than this counts as from a gate whose clock
#: runs ahead (metrics.SCANS_CLOCK_AHEAD); below it, ordinary skew between two NTP clocks.
CLOCK_AHEAD_TOLERANCE_MS = 2_000


def _from_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC time (exact: no float on the way)."""
    return _EPOCH + timedelta(milliseconds=ms)


def store_batch(
    session: Session, batch: Sequence[Inbound], now: datetime, *, live: bool = True
) -> BatchOutcome:
    """Apply every message of ``batch``; the caller commits, then sends ``outcome.acks``.
    ``live``: build dashboard events for scans (skipped while nobody watches)."""
    outcome = BatchOutcome()
    gates = repo.gates_by_topics(
        session, {(item.ref.site, item.ref.gate) for item in batch if item.ref.gate is not None}
    )
    #: Per gate, its scans of this batch by scan id (a re-sent scan once) and how many came.
    scans: dict[tuple[str, str], dict[str, Scan]] = defaultdict(dict)
    received: dict[tuple[str, str], int] = defaultdict(int)
    for item in batch:
        key = (item.ref.site, item.ref.gate or "")
        gate = gates.get(key)
        if gate is None or gate.enrollment is not EnrollmentState.ENROLLED:
            outcome.counts[metrics.UNKNOWN_GATE] += 1
            log.warning("message from an unknown gate", extra={"site": key[0], "gate": key[1]})
            continue
        message = item.message
        if isinstance(message, Scan):
            scans[key].setdefault(message.scan_id, message)
            received[key] += 1
        elif isinstance(message, Status):
            _apply_status(session, gate, message, now, outcome)
        elif isinstance(message, CommandResult):
            _apply_result(session, gate, message, now, outcome)
        elif isinstance(message, Telemetry):
            telemetry = {"last_seen_at": now, "telemetry": message.metrics, "telemetry_at": now}
            repo.update_gate_status(session, gate.id, telemetry)
            outcome.counts[metrics.TELEMETRY] += 1
    if scans:
        _store_scans(session, gates, scans, received, now, outcome, live=live)
    return outcome


def _apply_status(
    session: Session, gate: Gate, status: Status, now: datetime, outcome: BatchOutcome
) -> None:
    values: dict[str, Any] = {
        "state": status.state,
        "mode": status.mode,
        "allowlist_version": status.allowlist_version,
        "revocations_version": status.revocations_version,
        "outbox_depth": status.outbox_depth,
        "software": status.software,
        "status_since": _from_ms(status.since),
    }
    if status.state == "online":
        values["last_seen_at"] = now
    repo.update_gate_status(session, gate.id, values)
    outcome.counts[metrics.STATUSES] += 1
    outcome.events.append(
        LiveEvent(
            "gate",
            gate.merchant_id,
            {"gate_id": gate.id, **{k: _jsonable(v) for k, v in values.items()}},
        )
    )


def _apply_result(
    session: Session, gate: Gate, result: CommandResult, now: datetime, outcome: BatchOutcome
) -> None:
    record = apply_result(session, gate, result, now)
    if record is None:
        outcome.counts[metrics.UNKNOWN_COMMAND] += 1
        return
    outcome.counts[metrics.RESULTS] += 1
    outcome.events.append(
        LiveEvent(
            "command",
            gate.merchant_id,
            {
                "gate_id": gate.id,
                "command_id": record.command_id,
                "name": record.name,
                "ok": record.ok,
                "error": record.error,
                "detail": record.detail,
            },
        )
    )


def _store_scans(
    session: Session,
    gates: dict[tuple[str, str], Gate],
    scans: dict[tuple[str, str], dict[str, Scan]],
    received: dict[tuple[str, str], int],
    now: datetime,
    outcome: BatchOutcome,
    *,
    live: bool,
) -> None:
    """Every gate's scans in one INSERT, every gate's progress in one executemany UPDATE, then
    one ScanAck per gate (more past MAX_SCAN_IDS_PER_ACK ids). Rows go in (gate id, scan id)
    order and gates in id order, so concurrent instances take row locks in the same order."""
    by_gate_id = sorted(scans, key=lambda key: gates[key].id)
    rows = [
        _scan_row(gates[key], scans[key][scan_id], now)
        for key in by_gate_id
        for scan_id in sorted(scans[key])
    ]
    new = repo.insert_scans(session, rows)
    progress: list[dict[str, Any]] = []
    ts = int(now.timestamp() * 1000)
    for key in by_gate_id:
        gate, unique = gates[key], scans[key]
        fresh = [scan for scan in unique.values() if (gate.id, scan.scan_id) in new]
        outcome.counts[metrics.SCANS_STORED] += len(fresh)
        ahead = sum(1 for scan in fresh if scan.scanned_at > ts + CLOCK_AHEAD_TOLERANCE_MS)
        if ahead:
            outcome.counts[metrics.SCANS_CLOCK_AHEAD] += ahead
            log.warning(
                "scans stamped after they were received: the gate's clock runs ahead",
                extra={"gate": gate.key, "scans": ahead},
            )
        outcome.counts[metrics.SCANS_DUPLICATE] += received[key] - len(fresh)
        outcome.checkins_pending += len(fresh)
        if live:
            outcome.events.extend(
                LiveEvent("scan", gate.merchant_id, _scan_event(gate, scan)) for scan in fresh
            )
        watermark = _advance_watermark(session, gate, {scan.seq for scan in unique.values()})
        latest = max((scan.scanned_at for scan in fresh), default=None)
        progress.append(
            {
                "gate_id": gate.id,
                "watermark": watermark,
                "seen_at": now,
                "last_scan_at": None if latest is None else _from_ms(latest),
            }
        )
        ids = list(unique)
        for start in range(0, len(ids), MAX_SCAN_IDS_PER_ACK):
            ack = ScanAck(
                gate=gate.key,
                scan_ids=ids[start : start + MAX_SCAN_IDS_PER_ACK],
                watermark=watermark,
                ts=ts,
            )
            outcome.acks.append((key[0], key[1], ack))
    repo.record_scan_progress(session, progress)


def _advance_watermark(session: Session, gate: Gate, batch_seqs: set[int]) -> int:
    """The highest ``seq`` up to which every scan of the gate is stored.

    Walks up from the stored watermark through this batch's seqs; only when the batch has seqs
    beyond a gap does it ask the database (the gap may have been filled by an earlier batch).
    Stopping early is safe: ``scan_ids`` acknowledge every scan of the batch anyway.
    """
    watermark = gate.ack_watermark
    while True:
        while watermark + 1 in batch_seqs:
            watermark += 1
        if not any(seq > watermark for seq in batch_seqs):
            return watermark
        stored = repo.seqs_above(session, gate.id, watermark, limit=len(batch_seqs) + 100)
        if not stored or stored[0] != watermark + 1:
            return watermark
        batch_seqs = batch_seqs | set(stored)


def _scan_row(gate: Gate, scan: Scan, now: datetime) -> dict[str, Any]:
    return {
        "merchant_id": gate.merchant_id,
        "gate_id": gate.id,
        "scan_id": scan.scan_id,
        "seq": scan.seq,
        "scanned_at": _from_ms(scan.scanned_at),
        "received_at": now,
        "offline": scan.offline,
        "direction": scan.direction,
        "decision": scan.decision,
        "reason": scan.reason,
        "ticket_id": scan.ticket_id,
        "event_id": scan.event_id,
        "code_hash": scan.code_hash,
        "entry_no": scan.entry_no,
        "annuls": scan.annuls,
        "checkin_pending": True,
    }


def _scan_event(gate: Gate, scan: Scan) -> dict[str, Any]:
    return {
        "gate_id": gate.id,
        "gate": gate.key,
        "gate_name": gate.name,
        "scan_id": scan.scan_id,
        "scanned_at": _from_ms(scan.scanned_at).isoformat(),
        "offline": scan.offline,
        "direction": scan.direction,
        "decision": scan.decision,
        "reason": scan.reason,
        "ticket_id": scan.ticket_id,
    }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
