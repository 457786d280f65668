"""Gate scans into the check-in log, on SQLite and PostgreSQL: the rules scan by scan, then
batches. A hypothesis test plays random scan sequences (repeats, offline admissions beyond the
allowance, revoked and unknown tickets, typed codes, exits, annulments) once scan by scan, each
in its own transaction, and once as two overlapping batches, and requires the same log and the
same ticket counters: batching (locks, in-memory counters, annulments mid-batch) changes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import reasons
from protocol.allowlist import hash_code
from server.checkin import gate_scans
from server.checkin import repository as repo
from server.checkin.gate_scans import GateScanEntry
from server.checkin.models import CheckinMethod, CheckinRecord, CheckinResult, CheckinSource
from server.clock import ManualClock
from server.db import Database
from server.tickets import keys
from server.tickets import repository as tickets_repo
from server.tickets import service as tickets_service
from server.tickets.models import Ticket
from tests.server.helpers import AccountFactory
from tests.server.tickets.orders import FakeTicketType, issue

Recorder = Callable[..., CheckinRecord]


def _entry(merchant_id: int, now: datetime, **changes: object) -> GateScanEntry:
    values: dict[str, object] = {
        "merchant_id": merchant_id,
        "gate_id": 3,
        "scan_id": "scan-1",
        "scanned_at": now,
        "offline": False,
        "direction": "in",
        "gate_decision": "admitted",
        "gate_reason": reasons.ADMITTED,
    }
    values.update(changes)
    return GateScanEntry(**values)  # type: ignore[arg-type]


@pytest.fixture
def record() -> Recorder:
    """Record one gate scan and return its log row."""

    def one(session: Session, merchant_id: int, now: datetime, **changes: object) -> Any:
        return gate_scans.record_gate_scan(session, _entry(merchant_id, now, **changes), now)

    return one


def _records(database: Database, ticket_id: int) -> list[CheckinRecord]:
    with database.sessions() as session:
        query = select(CheckinRecord).where(CheckinRecord.ticket_id == ticket_id)
        return list(session.scalars(query.order_by(CheckinRecord.id)).all())


def _ticket(database: Database, merchant_id: int, ticket_id: int) -> Ticket:
    with database.sessions() as session:
        ticket = tickets_repo.get_ticket(session, merchant_id, ticket_id)
        assert ticket is not None
        return ticket


def test_a_gate_scan_is_stored_once_per_scan_id(
    database: Database, accounts: AccountFactory, clock: ManualClock, record: Recorder
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        first = record(session, shop.merchant_id, clock(), ticket_id=ticket.id)
    with database.sessions.begin() as session:
        again = record(session, shop.merchant_id, clock(), ticket_id=ticket.id)
    assert again.id == first.id
    assert (first.entry_no, first.conflict, first.source) == (1, False, CheckinSource.GATE)
    assert len(_records(database, ticket.id)) == 1


def test_offline_admissions_beyond_the_allowance_are_stored_and_flagged(
    database: Database, accounts: AccountFactory, clock: ManualClock, record: Recorder
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        online = record(session, shop.merchant_id, clock(), ticket_id=ticket.id, scan_id="a")
        offline = record(
            session,
            shop.merchant_id,
            clock() - timedelta(hours=1),
            ticket_id=ticket.id,
            scan_id="b",
            offline=True,
        )
    assert (online.conflict, offline.conflict) == (False, True)
    assert offline.conflict_reason == reasons.ALREADY_USED
    assert (offline.result, offline.offline, offline.entry_no) == (
        CheckinResult.ADMITTED,
        True,
        None,
    )
    assert offline.scanned_at == clock() - timedelta(hours=1)


def test_a_scan_stamped_after_the_server_received_it_is_judged_at_its_receipt(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    """A gate whose clock runs ahead stamps its scans in the future. Judged by that stamp, an
    admission inside the ticket's window would be flagged ``expired``; a scan cannot have
    happened after the server received it, so the log takes the receipt time instead."""
    shop = accounts.merchant()
    closes = clock() + timedelta(hours=1)
    kind = FakeTicketType(entries_allowed=1, valid_until=closes)
    first, second = issue(database, shop.merchant_id, count=2, now=clock(), ticket_type=kind)
    received, stamped = clock(), clock() + timedelta(days=3)
    with database.sessions.begin() as session:
        known = _entry(
            shop.merchant_id, stamped, ticket_id=first.id, scan_id="k", received_at=received
        )
        logged = gate_scans.record_gate_scan(session, known, clock())
        unknown = _entry(shop.merchant_id, stamped, ticket_id=second.id, scan_id="u")
        unbounded = gate_scans.record_gate_scan(session, unknown, clock())
    assert (logged.conflict, logged.entry_no, logged.scanned_at) == (False, 1, received)
    assert known.happened_at == received and unknown.happened_at == stamped
    # Without the receipt time the gate's stamp is all there is, and it is past the window.
    assert (unbounded.conflict, unbounded.conflict_reason) == (True, reasons.EXPIRED)


def test_gate_admissions_of_revoked_or_unknown_tickets_are_conflicts(
    database: Database, accounts: AccountFactory, clock: ManualClock, record: Recorder
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        tickets_service.revoke_tickets(session, shop.merchant_id, [ticket.id], "refund", clock())
        revoked = record(session, shop.merchant_id, clock(), ticket_id=ticket.id, scan_id="r")
        unknown = record(session, shop.merchant_id, clock(), code="123456789018", scan_id="u")
    assert (revoked.conflict_reason, unknown.conflict_reason) == (
        reasons.REVOKED,
        reasons.UNKNOWN_TICKET,
    )
    assert unknown.ticket_id is None and unknown.presented == "123456789018"


def test_a_gate_scan_finds_a_typed_code_by_its_hash(
    database: Database, accounts: AccountFactory, clock: ManualClock, record: Recorder
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        salt = keys.code_salt_for_merchant(session, shop.merchant_id)
        stored = record(session, shop.merchant_id, clock(), code=hash_code(ticket.code, salt))
    assert (stored.ticket_id, stored.method, stored.conflict) == (
        ticket.id,
        CheckinMethod.CODE,
        False,
    )


def test_a_gate_rejection_is_stored_without_conflict(
    database: Database, accounts: AccountFactory, clock: ManualClock, record: Recorder
) -> None:
    shop = accounts.merchant()
    with database.sessions.begin() as session:
        stored = record(
            session,
            shop.merchant_id,
            clock(),
            gate_decision="rejected",
            gate_reason=reasons.BAD_SIGNATURE,
        )
    assert (stored.result, stored.reason, stored.conflict) == (
        CheckinResult.REJECTED,
        reasons.BAD_SIGNATURE,
        False,
    )


def test_not_passed_gives_the_entry_back_once(
    database: Database, accounts: AccountFactory, clock: ManualClock, record: Recorder
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        record(session, shop.merchant_id, clock(), ticket_id=ticket.id, scan_id="in-1")
        for scan_id in ("annul-1", "annul-2"):
            record(
                session,
                shop.merchant_id,
                clock(),
                ticket_id=ticket.id,
                scan_id=scan_id,
                gate_decision="rejected",
                gate_reason=reasons.NOT_PASSED,
                annuls="in-1",
            )
    assert _ticket(database, shop.merchant_id, ticket.id).entries_used == 0
    with database.sessions.begin() as session:
        again = record(session, shop.merchant_id, clock(), ticket_id=ticket.id, scan_id="in-2")
        third = record(session, shop.merchant_id, clock(), ticket_id=ticket.id, scan_id="in-3")
    assert (again.conflict, again.entry_no) == (False, 2)
    assert (third.conflict, third.conflict_reason) == (True, reasons.ALREADY_USED)


# --- the batch path ----------------------------------------------------------------------------


def test_a_batch_claims_entries_in_scan_order_and_flags_the_rest(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    """Three gates admit a two-entry ticket in one batch: the first two count, the third is a
    conflict; a repeated scan id is one attempt; typed codes and hashes find their tickets."""
    shop = accounts.merchant()
    merchant = shop.merchant_id
    (two,) = issue(database, merchant, now=clock(), ticket_type=FakeTicketType(entries_allowed=2))
    (typed, hashed) = issue(database, merchant, now=clock(), count=2)
    with database.sessions.begin() as session:
        salt = keys.code_salt_for_merchant(session, merchant)
        entries = [
            _entry(merchant, clock(), ticket_id=two.id, scan_id="a", gate_id=1),
            _entry(merchant, clock(), ticket_id=two.id, scan_id="b", gate_id=2),
            _entry(merchant, clock(), ticket_id=two.id, scan_id="b", gate_id=2),
            _entry(merchant, clock(), ticket_id=two.id, scan_id="c", gate_id=3, offline=True),
            _entry(merchant, clock(), code=typed.code, scan_id="d"),
            _entry(merchant, clock(), code=hash_code(hashed.code, salt), scan_id="e"),
            _entry(merchant, clock(), code="garbage", scan_id="f"),
        ]
        gate_scans.record_gate_scans(session, entries, clock())
    rows = _records(database, two.id)
    assert [(r.scan_id, r.entry_no, r.conflict_reason) for r in rows] == [
        ("a", 1, ""),
        ("b", 2, ""),
        ("c", None, reasons.ALREADY_USED),
    ]
    assert _ticket(database, merchant, two.id).entries_used == 2
    assert [r.entry_no for r in _records(database, typed.id)] == [1]
    assert [r.entry_no for r in _records(database, hashed.id)] == [1]
    with database.sessions() as session:
        garbage = repo.record_by_scan_id(session, merchant, "f")
    assert garbage is not None
    assert (garbage.conflict_reason, garbage.presented) == (reasons.UNKNOWN_TICKET, "garbage")


def test_a_batch_is_idempotent_and_annulments_free_entries_for_later_scans(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    merchant = shop.merchant_id
    (ticket,) = issue(database, merchant, now=clock())
    entries = [
        _entry(merchant, clock(), ticket_id=ticket.id, scan_id="in-1"),
        _entry(
            merchant,
            clock(),
            ticket_id=ticket.id,
            scan_id="undo-1",
            gate_decision="rejected",
            gate_reason=reasons.NOT_PASSED,
            annuls="in-1",
        ),
        _entry(merchant, clock(), ticket_id=ticket.id, scan_id="in-2"),
    ]
    for _ in range(2):
        with database.sessions.begin() as session:
            gate_scans.record_gate_scans(session, entries, clock())
    rows = _records(database, ticket.id)
    assert [(r.scan_id, r.entry_no, r.conflict) for r in rows] == [
        ("in-1", 1, False),
        ("undo-1", None, False),
        ("in-2", 2, False),
    ]
    assert rows[1].annuls_record_id == rows[0].id
    assert _ticket(database, merchant, ticket.id).entries_used == 1


def test_another_merchants_ticket_is_unknown_to_a_batch(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    mine, theirs = accounts.merchant(), accounts.merchant()
    (foreign,) = issue(database, theirs.merchant_id, now=clock())
    with database.sessions.begin() as session:
        entry = _entry(mine.merchant_id, clock(), ticket_id=foreign.id, scan_id="x")
        gate_scans.record_gate_scans(session, [entry], clock())
        stored = repo.record_by_scan_id(session, mine.merchant_id, "x")
    assert stored is not None
    assert (stored.ticket_id, stored.conflict_reason) == (None, reasons.UNKNOWN_TICKET)
    assert _ticket(database, theirs.merchant_id, foreign.id).entries_used == 0


# --- both paths agree --------------------------------------------------------------------------


def _ticket_kinds(now: datetime) -> list[FakeTicketType]:
    """Ticket kinds a sequence draws from: one, two and unlimited entries, and a ticket whose
    window closes in the middle of the scans' times (45 minutes before ``now``)."""
    closes = (now - timedelta(minutes=45)).replace(second=0, microsecond=0)
    return [
        FakeTicketType(entries_allowed=1),
        FakeTicketType(entries_allowed=2),
        FakeTicketType(entries_allowed=0),
        FakeTicketType(entries_allowed=1, valid_until=closes),
    ]


_REVOKED = 4  # one more ticket after the kinds, revoked


@st.composite
def _scan_plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Scans as plans: which ticket and how it is named, what the gate decided, scan ids from
    a small pool so repeats happen, annulments of earlier scans."""
    plans: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 14))):
        scan_id = draw(st.sampled_from([f"s{index}", f"s{index}", "s0", "s1"]))
        plan: dict[str, Any] = {
            "scan_id": scan_id,
            "ticket": draw(st.integers(0, _REVOKED + 1)),  # the last one: unknown
            "name_by": draw(st.sampled_from(["id", "code", "hash"])),
            "direction": draw(st.sampled_from(["in", "in", "in", "out"])),
            "admitted": draw(st.booleans()) or index % 3 == 0,
            "offline": draw(st.booleans()),
            "minutes": draw(st.integers(-90, 0)),
            "annuls": None,
        }
        annul = draw(st.booleans())
        if annul and plans and not plan["admitted"]:
            plan["annuls"] = draw(st.sampled_from([p["scan_id"] for p in plans]))
        plans.append(plan)
    return plans


def _entries_for(
    merchant_id: int,
    tickets: list[Ticket],
    salt: str,
    plans: list[dict[str, Any]],
    now: datetime,
) -> list[GateScanEntry]:
    entries = []
    for plan in plans:
        ticket = tickets[plan["ticket"]] if plan["ticket"] < len(tickets) else None
        named: dict[str, Any] = {}
        if ticket is None:
            named = {"ticket_id": 10**9} if plan["name_by"] == "id" else {"code": "999999999999"}
        elif plan["name_by"] == "id":
            named = {"ticket_id": ticket.id}
        elif plan["name_by"] == "code":
            named = {"code": ticket.code}
        else:
            named = {"code": hash_code(ticket.code, salt)}
        rejected = {"gate_decision": "rejected", "gate_reason": reasons.NOT_PASSED}
        entries.append(
            _entry(
                merchant_id,
                now + timedelta(minutes=plan["minutes"]),
                scan_id=plan["scan_id"],
                direction=plan["direction"],
                offline=plan["offline"],
                annuls=plan["annuls"],
                **named,
                **({} if plan["admitted"] else rejected),
            )
        )
    return entries


def _log_of(database: Database, merchant_id: int, tickets: list[Ticket]) -> list[tuple[Any, ...]]:
    """The merchant's log, comparable across merchants: tickets by position, annulled records
    by scan id."""
    position = {ticket.id: index for index, ticket in enumerate(tickets)}
    with database.sessions() as session:
        rows = session.scalars(
            select(CheckinRecord)
            .where(CheckinRecord.merchant_id == merchant_id)
            .order_by(CheckinRecord.id)
        ).all()
        scan_of = {row.id: row.scan_id for row in rows}
        return [
            (
                row.scan_id,
                None if row.ticket_id is None else position[row.ticket_id],
                row.method,
                row.direction,
                row.result,
                row.reason,
                row.entry_no,
                None if row.annuls_record_id is None else scan_of[row.annuls_record_id],
                row.offline,
                row.conflict,
                row.conflict_reason,
                row.scanned_at,
                row.presented != "",
            )
            for row in rows
        ]


def _issue_set(database: Database, merchant_id: int, now: datetime) -> list[Ticket]:
    tickets = [
        issue(database, merchant_id, now=now, ticket_type=kind)[0] for kind in _ticket_kinds(now)
    ]
    (revoked,) = issue(database, merchant_id, now=now)
    with database.sessions.begin() as session:
        tickets_service.revoke_tickets(session, merchant_id, [revoked.id], "refund", now)
    return [*tickets, revoked]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plans=_scan_plans(), cut=st.integers(0, 14))
def test_batches_log_what_scan_by_scan_logs(
    database: Database,
    accounts: AccountFactory,
    clock: ManualClock,
    plans: list[dict[str, Any]],
    cut: int,
) -> None:
    now = clock()
    outcomes = []
    for path in ("single", "batch"):
        merchant_id = accounts.merchant().merchant_id
        tickets = _issue_set(database, merchant_id, now)
        with database.sessions.begin() as session:
            salt = keys.code_salt_for_merchant(session, merchant_id)
        entries = _entries_for(merchant_id, tickets, salt, plans, now)
        if path == "single":
            for entry in entries:
                with database.sessions.begin() as session:
                    gate_scans.record_gate_scan(session, entry, now)
        else:  # two batches, the second repeating part of the first
            for batch in (entries[:cut], entries[cut // 2 :]):
                with database.sessions.begin() as session:
                    gate_scans.record_gate_scans(session, batch, now)
        counters = [
            (t.entries_used, t.last_entry_no)
            for t in (_ticket(database, merchant_id, t.id) for t in tickets)
        ]
        outcomes.append((_log_of(database, merchant_id, tickets), counters))
    assert outcomes[0] == outcomes[1]
