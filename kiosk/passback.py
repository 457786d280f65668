"""Entry counting and anti-passback over the admissions ledger (pure: data in, verdict out).

The ledger view holds a ticket's admissions and exits that were not annulled, from this gate
(``local``) and from the site's other gates (``gossip``). Entries are counted per gate and
summed: a local gate's entries are its rows; a gossiping gate's are the highest
``entries_used`` it reported (its latest count, since annulments are removed by the store).

Rules for an entry (``direction == "in"``), in order:

1. timed window: admitted anywhere on the site less than ``window_seconds`` ago -> ``passback``;
2. entries: the limit (the policy's, else the ticket's; 0 = unlimited) is used up ->
   ``already_used``, unless re-entry after exit is allowed and the ticket's last event is an exit;
3. anti-passback: the ticket's last event is an entry (it is inside) -> ``passback`` when hard,
   admitted but flagged when soft.

For an exit, hard anti-passback refuses a ticket that is not inside (``passback``), soft flags it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.policy import GatePolicy
from kiosk.store import LedgerEntry
from protocol.reasons import ALREADY_USED, PASSBACK


@dataclass(frozen=True, slots=True)
class PassbackVerdict:
    """``reason`` is None exactly when allowed; ``entry_no`` is the entry an admitted "in" would be;
    ``flag`` names a soft anti-passback violation (admitted anyway) for the record."""

    allowed: bool
    reason: str | None
    entry_no: int | None
    entries_used: int
    detail: str = ""
    flag: str | None = None


def entries_used(ledger: Sequence[LedgerEntry]) -> int:
    """The ticket's entries across the site (see the module docstring)."""
    local: dict[str, int] = {}
    gossip: dict[str, int] = {}
    for row in ledger:
        if row.direction != "in" or row.annulled:
            continue
        if row.source == "local":
            local[row.gate] = local.get(row.gate, 0) + 1
        else:
            gossip[row.gate] = max(gossip.get(row.gate, 0), row.entry_no or 0)
    gates = local.keys() | gossip.keys()
    return sum(max(local.get(gate, 0), gossip.get(gate, 0)) for gate in gates)


def judge(
    ledger: Sequence[LedgerEntry],
    policy: GatePolicy,
    direction: str,
    ticket_entries: int,
    now_ms: int,
) -> PassbackVerdict:
    """Whether the ticket may pass ``direction`` now, given its ledger rows."""
    rows = sorted((row for row in ledger if not row.annulled), key=lambda row: row.at_ms)
    used = entries_used(rows)
    last = rows[-1] if rows else None
    inside = last is not None and last.direction == "in"
    if direction == "out":
        if not inside and policy.anti_passback != "off":
            detail = "exit without an entry"
            if policy.anti_passback == "hard":
                return PassbackVerdict(False, PASSBACK, None, used, detail)
            return PassbackVerdict(True, None, None, used, flag=detail)
        return PassbackVerdict(True, None, None, used)

    if policy.window_seconds:
        entries = [row for row in rows if row.direction == "in"]
        if entries:
            latest = entries[-1]
            elapsed_ms = now_ms - latest.at_ms
            if elapsed_ms < policy.window_seconds * 1000:
                detail = (
                    f"admitted at {latest.gate} {max(elapsed_ms, 0) // 1000} s ago"
                    f" (window {policy.window_seconds} s)"
                )
                return PassbackVerdict(False, PASSBACK, None, used, detail)

    limit = policy.max_entries if policy.max_entries is not None else ticket_entries
    if limit and used >= limit:
        reentry = policy.reentry_after_exit and last is not None and last.direction == "out"
        if not reentry:
            return PassbackVerdict(
                False, ALREADY_USED, None, used, f"{used} of {limit} entries used"
            )

    if last is not None and last.direction == "in" and policy.anti_passback != "off":
        detail = f"already inside (entered at {last.gate})"
        if policy.anti_passback == "hard":
            return PassbackVerdict(False, PASSBACK, None, used, detail)
        return PassbackVerdict(True, None, used + 1, used, flag=detail)
    return PassbackVerdict(True, None, used + 1, used)
