"""The summary compares the kiosks' decisions with the server's rows: lost, duplicated and
unexpected scans are found, and only lost ones (or a full outbox) count as events lost."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from kiosk.app import ScanOutcome
from kiosk.decision import Decision
from server.demo.kiosks import ScanResult
from server.demo.plan import Kind, PlannedScan
from server.demo.report import DemoSummary, render, summarize
from server.demo.repository import GateCheckins, StoredScan

SCANNED_AT = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
CHECKINS = GateCheckins(admitted=1, conflicts=1, conflict_reasons={"already_used": 1})


def result(kind: Kind, reason: str | None, scan_id: str) -> ScanResult:
    planned = PlannedScan(kind, f"text-{scan_id}")
    if reason is None:
        return ScanResult("gate-1", planned, None)
    decision = Decision(
        admitted=reason == "admitted",
        reason=reason,
        ticket_key=None,
        ticket_id=None,
        event_id=None,
        entry_no=None,
        direction="in",
        offline=False,
    )
    return ScanResult("gate-1", planned, ScanOutcome(planned.text, decision, scan_id, 1))


def stored(scan_id: str, reason: str = "admitted", annuls: str | None = None) -> StoredScan:
    return StoredScan(
        scan_id,
        reason,
        offline=False,
        annuls=annuls,
        scanned_at=SCANNED_AT,
        received_at=SCANNED_AT + timedelta(milliseconds=40 if reason == "admitted" else 10),
    )


RESULTS = [
    result(Kind.VALID, "admitted", "s1"),
    result(Kind.REFUNDED, "revoked", "s2"),
    result(Kind.REFUNDED, "admitted", "s3"),
    result(Kind.UNKNOWN_KEY, None, "never-read"),
]


def test_a_clean_run_counts_by_reason_and_kind() -> None:
    rows = [stored("s1"), stored("s2", "revoked"), stored("s3"), stored("n1", "not_passed", "s1")]
    summary = summarize(RESULTS, rows, CHECKINS, {"gate-1": 0})
    assert (summary.shown, summary.unread, summary.scanned) == (4, 1, 3)
    assert summary.admitted == 2
    assert summary.rejected_by_reason == {"revoked": 1}
    refunded = next(row for row in summary.kinds if row.kind is Kind.REFUNDED)
    assert (refunded.scanned, refunded.as_expected, refunded.other_reasons) == (
        2,
        1,
        {"admitted": 1},
    )
    assert summary.unexpected == 1
    assert (summary.stored, summary.stored_admitted, summary.annulments) == (3, 2, 1)
    assert summary.lost == summary.duplicated == summary.unknown == []
    assert summary.slowest_delivery == timedelta(milliseconds=40)
    assert not summary.events_lost


def test_missing_and_doubled_rows_are_found() -> None:
    rows = [stored("s1"), stored("s1"), stored("stray")]
    summary = summarize(RESULTS, rows, CHECKINS, {"gate-1": 0})
    assert summary.lost == ["s2", "s3"]
    assert summary.duplicated == ["s1"]
    assert summary.unknown == ["stray"]
    assert summary.events_lost


def test_a_kiosk_with_scans_still_waiting_means_events_lost() -> None:
    rows = [stored("s1"), stored("s2", "revoked"), stored("s3")]
    summary = summarize(RESULTS, rows, CHECKINS, {"gate-1": 0, "gate-2": 3})
    assert not summary.lost
    assert not summary.outboxes_drained
    assert summary.events_lost


def _rendered(summary: DemoSummary) -> str:
    output = io.StringIO()
    render(summary, Console(file=output, width=120))
    return output.getvalue()


def test_render_states_the_verdict() -> None:
    clean = summarize(RESULTS[:2], [stored("s1"), stored("s2", "revoked")], CHECKINS, {"g": 0})
    assert "Every scan reached the server exactly once." in _rendered(clean)
    lossy = summarize(RESULTS[:2], [stored("s1")], CHECKINS, {"g": 0})
    assert "Events were lost" in _rendered(lossy)
    assert "already_used 1" in _rendered(lossy)
