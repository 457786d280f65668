"""The demo's closing summary: what the kiosks decided, what the server stored, and whether the
two agree (every scan stored exactly once, every outbox empty). :func:`summarize` is pure;
:func:`render` draws it with rich."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from rich.console import Console, Group
from rich.table import Table

from server.demo.kiosks import ScanResult
from server.demo.plan import EXPECTED_REASON, Kind
from server.demo.repository import GateCheckins, StoredScan


@dataclass(frozen=True)
class KindRow:
    kind: Kind
    scanned: int
    expected_reason: str
    as_expected: int
    other_reasons: dict[str, int]


@dataclass(frozen=True)
class DemoSummary:
    shown: int
    unread: int
    scanned: int
    admitted: int
    rejected_by_reason: dict[str, int]
    kinds: list[KindRow]
    #: scans whose decision differs from what their kind should get
    unexpected: int
    stored: int
    stored_admitted: int
    #: kiosk scan ids the server does not have
    lost: list[str]
    #: scan ids stored more than once
    duplicated: list[str]
    #: stored scans no kiosk reported deciding (besides annulments)
    unknown: list[str]
    annulments: int
    stored_offline: int
    #: the longest a stored scan took from the gate's decision to the server's database
    slowest_delivery: timedelta | None
    checkins: GateCheckins
    outbox_depths: dict[str, int] = field(default_factory=dict)

    @property
    def outboxes_drained(self) -> bool:
        return all(depth == 0 for depth in self.outbox_depths.values())

    @property
    def events_lost(self) -> bool:
        """Something a kiosk decided never reached the server (or is still waiting to)."""
        return bool(self.lost) or not self.outboxes_drained


def summarize(
    results: Sequence[ScanResult],
    stored: Sequence[StoredScan],
    checkins: GateCheckins,
    outbox_depths: Mapping[str, int],
) -> DemoSummary:
    decided = [result for result in results if result.outcome is not None]
    reasons = Counter(result.reason for result in decided if result.reason is not None)
    kinds: list[KindRow] = []
    unexpected = 0
    for kind in Kind:
        of_kind = [result for result in decided if result.planned.kind is kind]
        if not of_kind:
            continue
        expected = EXPECTED_REASON[kind]
        got = Counter(result.reason for result in of_kind if result.reason is not None)
        matched = got.pop(expected, 0)
        unexpected += sum(got.values())
        kinds.append(KindRow(kind, len(of_kind), expected, matched, dict(got)))
    kiosk_ids = {result.outcome.scan_id for result in decided if result.outcome is not None}
    stored_counts = Counter(scan.scan_id for scan in stored)
    scans = [scan for scan in stored if scan.annuls is None]
    return DemoSummary(
        shown=len(results),
        unread=len(results) - len(decided),
        scanned=len(decided),
        admitted=reasons.pop("admitted", 0),
        rejected_by_reason=dict(reasons.most_common()),
        kinds=kinds,
        unexpected=unexpected,
        stored=len(scans),
        stored_admitted=sum(1 for scan in scans if scan.reason == "admitted"),
        lost=sorted(kiosk_ids - set(stored_counts)),
        duplicated=sorted(scan_id for scan_id, count in stored_counts.items() if count > 1),
        unknown=sorted({scan.scan_id for scan in scans} - kiosk_ids),
        annulments=len(stored) - len(scans),
        stored_offline=sum(1 for scan in stored if scan.offline),
        slowest_delivery=max((scan.received_at - scan.scanned_at for scan in stored), default=None),
        checkins=checkins,
        outbox_depths=dict(outbox_depths),
    )


def render(summary: DemoSummary, console: Console) -> None:
    gates = Table(title="At the gates", show_header=False, title_justify="left")
    gates.add_column(style="bold")
    gates.add_column(justify="right")
    gates.add_row("tickets shown", str(summary.shown))
    gates.add_row("not read by the camera", str(summary.unread))
    gates.add_row("scanned (decided)", str(summary.scanned))
    gates.add_row("admitted", f"[green]{summary.admitted}[/green]")
    for reason, count in summary.rejected_by_reason.items():
        gates.add_row(f"rejected: {reason}", f"[red]{count}[/red]")

    kinds = Table(title="By kind of ticket", title_justify="left")
    kinds.add_column("kind")
    kinds.add_column("scanned", justify="right")
    kinds.add_column("expected")
    kinds.add_column("as expected", justify="right")
    kinds.add_column("otherwise")
    for row in summary.kinds:
        other = ", ".join(f"{reason} {count}" for reason, count in row.other_reasons.items())
        style = "green" if row.as_expected == row.scanned else "red"
        kinds.add_row(
            row.kind.value,
            str(row.scanned),
            row.expected_reason,
            f"[{style}]{row.as_expected}[/{style}]",
            other or "-",
        )

    server = Table(title="Received by the server", show_header=False, title_justify="left")
    server.add_column(style="bold")
    server.add_column(justify="right")
    checkins = summary.checkins
    server.add_row("gate scans stored", str(summary.stored))
    server.add_row("  admissions", str(summary.stored_admitted))
    server.add_row("  refusals", str(summary.stored - summary.stored_admitted))
    server.add_row("  decided offline", str(summary.stored_offline))
    server.add_row("annulments (nobody walked through)", str(summary.annulments))
    if summary.slowest_delivery is not None:
        seconds = summary.slowest_delivery.total_seconds()
        server.add_row("slowest gate → server delivery", f"{seconds:.2f} s")
    server.add_row("check-ins counted", str(checkins.admitted))
    conflict_text = ", ".join(f"{r} {n}" for r, n in checkins.conflict_reasons.items())
    server.add_row(
        "conflicts flagged",
        f"{checkins.conflicts}" + (f" ({conflict_text})" if conflict_text else ""),
    )
    server.add_row("lost (decided, never stored)", _mark(len(summary.lost)))
    server.add_row("stored twice", _mark(len(summary.duplicated)))
    outboxes = ", ".join(f"{gate} {depth}" for gate, depth in sorted(summary.outbox_depths.items()))
    drained = "[green]yes[/green]" if summary.outboxes_drained else "[red]no[/red]"
    server.add_row("kiosk outboxes drained", f"{drained} ({outboxes})")

    console.print(Group(gates, kinds, server))
    if summary.events_lost:
        console.print("[bold red]Events were lost: the server is missing kiosk scans.[/bold red]")
    elif summary.unexpected:
        console.print(f"[bold red]{summary.unexpected} scans were decided unexpectedly.[/bold red]")
    else:
        console.print("[bold green]Every scan reached the server exactly once.[/bold green]")


def _mark(count: int) -> str:
    return f"[green]{count}[/green]" if count == 0 else f"[red]{count}[/red]"
