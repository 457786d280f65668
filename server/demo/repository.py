"""What the server stored from the demo's gates (the only SQL of the demo package)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.checkin.models import CheckinRecord, CheckinResult, CheckinSource
from server.fleet.models import Gate, GateScan


@dataclass(frozen=True)
class StoredScan:
    scan_id: str
    reason: str
    offline: bool
    annuls: str | None
    #: the gate's time of the scan, and when the server stored it
    scanned_at: datetime
    received_at: datetime


def stored_scans(session: Session, gate_ids: Collection[int]) -> list[StoredScan]:
    """Every gate scan row of these gates (one per scan id and gate: the table's unique key)."""
    rows = session.execute(
        select(
            GateScan.scan_id,
            GateScan.reason,
            GateScan.offline,
            GateScan.annuls,
            GateScan.scanned_at,
            GateScan.received_at,
        )
        .where(GateScan.gate_id.in_(list(gate_ids)))
        .order_by(GateScan.id)
    )
    return [StoredScan(*row) for row in rows]


def checkins_pending(session: Session, gate_ids: Collection[int]) -> int:
    """Stored gate scans the fleet's check-in stage has not written to the check-in log yet."""
    count = session.scalar(
        select(func.count())
        .select_from(GateScan)
        .where(GateScan.gate_id.in_(list(gate_ids)), GateScan.checkin_pending.is_(True))
    )
    return int(count or 0)


def gate_states(session: Session, gate_ids: Collection[int]) -> dict[int, str]:
    """Gate id -> state from its last status message (``unknown`` until one arrived)."""
    rows = session.execute(select(Gate.id, Gate.state).where(Gate.id.in_(list(gate_ids))))
    return {gate_id: state for gate_id, state in rows}


@dataclass(frozen=True)
class GateCheckins:
    """Check-in log rows written for gate admissions (refusals are logged too, as rejected
    rows; the summary counts them from the gate scans)."""

    admitted: int
    conflicts: int
    conflict_reasons: dict[str, int]


def gate_checkins(session: Session, merchant_id: int) -> GateCheckins:
    gate_rows = (
        CheckinRecord.merchant_id == merchant_id,
        CheckinRecord.source == CheckinSource.GATE,
    )
    by_result: dict[CheckinResult, int] = {
        result: count
        for result, count in session.execute(
            select(CheckinRecord.result, func.count())
            .where(*gate_rows, CheckinRecord.conflict.is_(False))
            .group_by(CheckinRecord.result)
        )
    }
    conflicts: dict[str, int] = {
        reason: count
        for reason, count in session.execute(
            select(CheckinRecord.conflict_reason, func.count())
            .where(*gate_rows, CheckinRecord.conflict.is_(True))
            .group_by(CheckinRecord.conflict_reason)
        )
    }
    return GateCheckins(
        admitted=by_result.get(CheckinResult.ADMITTED, 0),
        conflicts=sum(conflicts.values()),
        conflict_reasons=conflicts,
    )
