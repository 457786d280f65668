"""Gate scans into the check-in log (seam 3), just behind ingestion.

Ingestion stores every scan and acknowledges it after its commit, each with
``checkin_pending`` set: admissions, rejections (logged as rejected with the gate's reason) and
annulments alike, so every gate check-in attempt is one row of the append-only log. This stage
then hands each such scan to ``server.checkin.service.record_gate_scan`` (which always stores,
is idempotent by scan id and flags conflicts) and clears the flag in the same transaction. The
flag lives in the database, so a crash between the two stages loses nothing: the next pass
picks the scan up. Keeping
check-in rules (several queries per admission) off the acknowledgement path is what lets
ingestion keep up with bursts from many gates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.checkin.service import record_gate_scan
from server.fleet import repository as repo


def record_pending_checkins(session: Session, *, limit: int, now: datetime) -> int:
    """Record up to ``limit`` pending gate scans in the check-in log; returns how many."""
    pending = repo.pending_checkin_scans(session, limit)
    for scan in pending:
        record_gate_scan(
            session,
            merchant_id=scan.merchant_id,
            ticket_id=scan.ticket_id,
            code=scan.code_hash,
            gate_id=scan.gate_id,
            scan_id=scan.scan_id,
            scanned_at=scan.scanned_at,
            offline=scan.offline,
            direction=scan.direction,
            gate_decision=scan.decision,
            gate_reason=scan.reason,
            annuls=scan.annuls,
            now=now,
        )
        scan.checkin_pending = False
    session.flush()
    return len(pending)
