"""Gate scans into the check-in log (seam 3): one at a time, or a batch in a few statements.

Pretix's rule: a gate's scan is always stored, idempotent by scan id, and flagged as a conflict
when the gate admitted what the server would have refused online (``already_used``,
``revoked``, ``unknown_ticket``, ...). A gate admission the server agrees with claims the
ticket's next entry; a ``not_passed`` rejection naming the admission it ``annuls`` gives that
entry back.

:func:`record_gate_scans` records scans the way the fleet's check-in stage needs to keep up with
many gates (:func:`record_gate_scan` is a batch of one): which scans are already logged (one
query); every ticket the batch names, row-locked in id order (one ``SELECT ... FOR UPDATE``;
SQLite's write transaction already holds the write lock); the pure :func:`plan_gate_records`
decides every row and counter in memory; one ``executemany`` UPDATE and one multi-row INSERT
write them. Holding the locks makes the in-memory counters authoritative, so the allowance
holds as with check-in's conditional claim. Annulments (rare) are logged one by one at their
place in the batch. Should a unique guard refuse a batch (another transaction logged one of
its scan ids meanwhile), its savepoint is rolled back and each scan is recorded in its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol import codes, reasons
from server.checkin import repository as repo
from server.checkin.models import (
    CheckinMethod,
    CheckinRecord,
    CheckinResult,
    CheckinSource,
    Direction,
)
from server.checkin.rules import entry_refusal
from server.checkin.service import (
    Actor,
    Attempt,
    loggable,
    record_values,
    store_unique,
    ticket_facts,
)
from server.tickets import repository as tickets_repo
from server.tickets.models import Ticket, TicketStatus

log = logging.getLogger(__name__)

#: Length of an allowlist code hash (what a gate reports for a typed code it found offline).
CODE_HASH_LENGTH = 32


@dataclass(frozen=True)
class GateScanEntry:
    """What a gate reported about one decided scan."""

    merchant_id: int
    gate_id: int
    scan_id: str
    scanned_at: datetime
    offline: bool
    direction: str
    gate_decision: str
    gate_reason: str
    #: The credential's ticket id, when the gate verified a credential.
    ticket_id: int | None = None
    #: A typed 12-digit code or the allowlist hash of one.
    code: str | None = None
    #: The scan id of the admission a ``not_passed`` rejection annuls.
    annuls: str | None = None
    #: When the server received the scan (the bridge's receipt), if known.
    received_at: datetime | None = None

    @property
    def happened_at(self) -> datetime:
        """When the scan happened, as well as the server can tell: the gate's time, but never
        after the server received it (a gate whose clock runs ahead stamps its scans in the
        future; judged by that time, a ticket whose window was open would be flagged
        ``expired``). The gate's own stamp stays in the gate's scan row."""
        if self.received_at is not None and self.scanned_at > self.received_at:
            return self.received_at
        return self.scanned_at


@dataclass
class TicketRow:
    """A ticket's check-in facts, as the batch path reads them under lock; planning moves the
    counters as it claims entries."""

    id: int
    merchant_id: int
    event_id: int
    status: TicketStatus
    valid_from: datetime | None
    valid_until: datetime | None
    entries_allowed: int
    entries_used: int
    last_entry_no: int


#: How a scan names its ticket: by id, by typed code, or by code hash.
TicketLookup = tuple[Literal["id"], int] | tuple[Literal["code", "hash"], str]


def ticket_lookup(entry: GateScanEntry) -> TicketLookup | None:
    """How ``entry`` names its ticket; None when it names none (a forged or unreadable scan)."""
    if entry.ticket_id is not None:
        return ("id", entry.ticket_id)
    if not entry.code:
        return None
    digits = codes.normalize(entry.code)
    if digits is not None:
        return ("code", digits)
    if len(entry.code) == CODE_HASH_LENGTH:
        return ("hash", entry.code.lower())
    return None


def gate_attempt(entry: GateScanEntry, ticket_found: bool, now: datetime) -> tuple[Actor, Attempt]:
    """The actor and attempt a gate scan is logged as."""
    actor = Actor(source=CheckinSource.GATE, gate_id=entry.gate_id)
    attempt = Attempt(
        method=CheckinMethod.CREDENTIAL if entry.ticket_id is not None else CheckinMethod.CODE,
        direction=Direction(entry.direction),
        scanned_at=entry.happened_at,
        received_at=now,
        offline=entry.offline,
        scan_id=entry.scan_id,
        presented="" if ticket_found else loggable(entry.code or str(entry.ticket_id or "")),
    )
    return actor, attempt


def annuls_an_entry(entry: GateScanEntry) -> bool:
    """A ``not_passed`` rejection naming an admission: it may give an entry back."""
    return (
        entry.gate_decision != CheckinResult.ADMITTED.value
        and entry.gate_reason == reasons.NOT_PASSED
        and bool(entry.annuls)
    )


# --- one scan ----------------------------------------------------------------------------------


def record_gate_scan(session: Session, entry: GateScanEntry, now: datetime) -> CheckinRecord:
    """Store a gate's decided scan (a batch of one); idempotent by scan id; always stores."""
    record_gate_scans(session, [entry], now)
    stored = repo.record_by_scan_id(session, entry.merchant_id, entry.scan_id)
    assert stored is not None, "a gate scan was not logged"
    return stored


def _record_annulment(session: Session, entry: GateScanEntry, now: datetime) -> None:
    """A ``not_passed`` rejection naming an admission: logged, and the admission's entry given
    back once (a second annulment of the same admission gives nothing back)."""
    merchant_id = entry.merchant_id
    if repo.record_by_scan_id(session, merchant_id, entry.scan_id) is not None:
        return
    ticket = _find_ticket(session, merchant_id, ticket_lookup(entry))
    actor, attempt = gate_attempt(entry, ticket is not None, now)
    assert entry.annuls is not None
    annulled = repo.record_by_scan_id(session, merchant_id, entry.annuls)
    if annulled is None or annulled.entry_no is None or repo.annulment_of(session, annulled.id):
        annulled = None
    if annulled is not None and ticket is None and annulled.ticket_id is not None:
        ticket = tickets_repo.get_ticket(session, merchant_id, annulled.ticket_id)
    values = record_values(
        merchant_id,
        actor,
        attempt,
        ticket,
        entry.gate_reason,
        annuls_record_id=None if annulled is None else annulled.id,
    )
    if store_unique(session, values) is None:
        return  # the same scan was stored meanwhile: its first copy did the annulling
    if annulled is not None and annulled.ticket_id is not None:
        tickets_repo.release_entry(session, annulled.ticket_id)


def _find_ticket(session: Session, merchant_id: int, lookup: TicketLookup | None) -> Ticket | None:
    if lookup is None:
        return None
    if lookup[0] == "id":
        return tickets_repo.get_ticket(session, merchant_id, lookup[1])
    if lookup[0] == "code":
        return tickets_repo.get_ticket_by_code(session, merchant_id, lookup[1])
    return tickets_repo.get_ticket_by_code_hash(session, merchant_id, lookup[1])


# --- a batch -----------------------------------------------------------------------------------


@dataclass
class GatePlan:
    """What a batch writes: the log rows, and the tickets whose counters moved."""

    records: list[dict[str, Any]] = field(default_factory=list)
    claimed: dict[int, TicketRow] = field(default_factory=dict)


def plan_gate_records(
    entries: Iterable[GateScanEntry],
    tickets: Mapping[tuple[int, TicketLookup], TicketRow],
    now: datetime,
) -> GatePlan:
    """Decide every log row of ``entries`` (scans not yet logged, none an annulment), in order.

    ``tickets`` holds, per (merchant id, lookup), the ticket row read under lock; claiming an
    entry moves that row's counters, so a later scan of the same ticket sees the claim. Pure:
    the same rules as :func:`record_gate_scan`, with the locked rows in place of the
    conditional claim.
    """
    plan = GatePlan()
    for entry in entries:
        lookup = ticket_lookup(entry)
        ticket = None if lookup is None else tickets.get((entry.merchant_id, lookup))
        actor, attempt = gate_attempt(entry, ticket is not None, now)
        values = _planned_values(entry, actor, attempt, ticket, plan)
        plan.records.append(values)
    return plan


def _planned_values(
    entry: GateScanEntry,
    actor: Actor,
    attempt: Attempt,
    ticket: TicketRow | None,
    plan: GatePlan,
) -> dict[str, Any]:
    merchant_id, reason = entry.merchant_id, entry.gate_reason
    if entry.gate_decision != CheckinResult.ADMITTED.value:
        return record_values(merchant_id, actor, attempt, ticket, reason)
    if ticket is None:
        return record_values(
            merchant_id,
            actor,
            attempt,
            None,
            None,
            conflict_reason=reasons.UNKNOWN_TICKET,
            reason=reason,
        )
    if attempt.direction is Direction.OUT:
        return record_values(merchant_id, actor, attempt, ticket, None, reason=reason)
    refusal = entry_refusal(ticket_facts(ticket), attempt.scanned_at)
    if refusal is not None:
        return record_values(
            merchant_id, actor, attempt, ticket, None, conflict_reason=refusal, reason=reason
        )
    ticket.entries_used += 1
    ticket.last_entry_no += 1
    plan.claimed[ticket.id] = ticket
    return record_values(
        merchant_id, actor, attempt, ticket, None, reason=reason, entry_no=ticket.last_entry_no
    )


def record_gate_scans(session: Session, entries: Sequence[GateScanEntry], now: datetime) -> None:
    """Record gate scans in order: runs of ordinary scans in bulk, each annulment at its place
    (it may give back an entry a later scan then claims)."""
    run: list[GateScanEntry] = []
    for entry in entries:
        if annuls_an_entry(entry):
            _record_run(session, run, now)
            run = []
            _record_annulment(session, entry, now)
        else:
            run.append(entry)
    _record_run(session, run, now)


def _record_run(session: Session, entries: Sequence[GateScanEntry], now: datetime) -> None:
    """A run in one savepoint; should a unique guard refuse it (another transaction logged one
    of its scan ids meanwhile), each scan again in its own savepoint, and a refused one is
    already logged."""
    if not entries:
        return
    try:
        with session.begin_nested():
            claimed = _write_run(session, entries, now)
    except IntegrityError:
        if len(entries) == 1:
            log.info("gate scan %s was logged concurrently", entries[0].scan_id)
            return
        log.info("a batch of gate scans met a concurrent writer; recording them one by one")
        for entry in entries:
            _record_run(session, [entry], now)
        return
    # Tickets loaded earlier in this transaction (annulments) missed the bulk UPDATE.
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Ticket) and loaded.id in claimed:
            session.expire(loaded)


def _write_run(session: Session, entries: Sequence[GateScanEntry], now: datetime) -> set[int]:
    """Write a run of ordinary scans; returns the ids of the tickets whose counters moved."""
    logged = repo.logged_scan_ids(session, [(e.merchant_id, e.scan_id) for e in entries])
    fresh: list[GateScanEntry] = []
    for entry in entries:
        key = (entry.merchant_id, entry.scan_id)
        if key not in logged:
            logged.add(key)  # a scan id twice in one batch is one attempt
            fresh.append(entry)
    if not fresh:
        return set()
    wanted = {
        (entry.merchant_id, lookup)
        for entry in fresh
        if (lookup := ticket_lookup(entry)) is not None
    }
    tickets = _lock_tickets(session, wanted)
    plan = plan_gate_records(fresh, tickets, now)
    tickets_repo.set_entry_counters(
        session,
        [(row.id, row.entries_used, row.last_entry_no) for row in plan.claimed.values()],
    )
    repo.insert_records(session, plan.records)
    return set(plan.claimed)


def _lock_tickets(
    session: Session, wanted: set[tuple[int, TicketLookup]]
) -> dict[tuple[int, TicketLookup], TicketRow]:
    """Every ticket ``wanted`` names, row-locked in id order, by (merchant id, lookup)."""
    if not wanted:
        return {}
    ids: set[int] = set()
    typed: set[str] = set()
    hashed: set[str] = set()
    for _, lookup in wanted:
        if lookup[0] == "id":
            ids.add(lookup[1])
        elif lookup[0] == "code":
            typed.add(lookup[1])
        else:
            hashed.add(lookup[1])
    rows = tickets_repo.lock_tickets_for_checkin(
        session,
        merchant_ids={merchant_id for merchant_id, _ in wanted},
        ids=ids,
        codes=typed,
        code_hashes=hashed,
    )
    found: dict[tuple[int, TicketLookup], TicketRow] = {}
    for row in rows:
        ticket = TicketRow(
            id=row.id,
            merchant_id=row.merchant_id,
            event_id=row.event_id,
            status=row.status,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            entries_allowed=row.entries_allowed,
            entries_used=row.entries_used,
            last_entry_no=row.last_entry_no,
        )
        lookups: tuple[TicketLookup, ...] = (
            ("id", row.id),
            ("code", row.code),
            ("hash", row.code_hash),
        )
        for lookup in lookups:
            key = (row.merchant_id, lookup)
            # Rows come in id order: a code hash shared by two tickets names the first.
            if key in wanted and key not in found:
                found[key] = ticket
    return found
