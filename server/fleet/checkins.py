"""Gate scans into the check-in log (seam 3), just behind ingestion.

Ingestion stores every scan and acknowledges it after its commit, each with
``checkin_pending`` set: admissions, rejections (logged as rejected with the gate's reason) and
annulments alike, so every gate check-in attempt is one row of the append-only log. This stage
takes the oldest pending scans (locked, so several instances split them), records them with
:func:`server.checkin.gate_scans.record_gate_scans` (always stores, idempotent by scan id,
flags conflicts; a batch costs a few statements) and clears their flags, all in one
transaction. The flag lives in the database, so a crash between the two stages loses nothing:
the next pass picks the scan up. Keeping check-in rules off the acknowledgement path is what
lets ingestion keep up with bursts from many gates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.checkin.gate_scans import GateScanEntry, record_gate_scans
from server.fleet import repository as repo


def record_pending_checkins(session: Session, *, limit: int, now: datetime) -> int:
    """Record up to ``limit`` pending gate scans in the check-in log; returns how many."""
    pending = repo.pending_checkin_scans(session, limit)
    entries = [
        GateScanEntry(
            merchant_id=row.merchant_id,
            gate_id=row.gate_id,
            scan_id=row.scan_id,
            scanned_at=row.scanned_at,
            received_at=row.received_at,
            offline=row.offline,
            direction=row.direction,
            gate_decision=row.decision,
            gate_reason=row.reason,
            ticket_id=row.ticket_id,
            code=row.code_hash,
            annuls=row.annuls,
        )
        for row in pending
    ]
    record_gate_scans(session, entries, now)
    repo.clear_checkin_pending(session, [row.id for row in pending])
    return len(pending)
