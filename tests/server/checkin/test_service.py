"""Check-in rules against a real database: allowance, concurrency, revocation, gate scans."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from protocol import reasons
from server.checkin import service
from server.checkin.guard import AppendOnlyViolation
from server.checkin.models import (
    CheckinMethod,
    CheckinRecord,
    CheckinResult,
    CheckinSource,
    Direction,
    LoggedRecord,
)
from server.checkin.service import Actor, Attempt
from server.clock import ManualClock
from server.db import Database
from server.tickets import repository as tickets_repo
from server.tickets import service as tickets_service
from server.tickets.models import Ticket
from tests.server.helpers import AccountFactory
from tests.server.tickets.orders import FakeTicketType, issue

CHECKER = Actor(source=CheckinSource.CHECKER, device_id="phone-1")
CONCURRENT_REDEEMS = 50


def _attempt(now: datetime, **changes: object) -> Attempt:
    values: dict[str, object] = {
        "method": CheckinMethod.TICKET,
        "direction": Direction.IN,
        "scanned_at": now,
        "received_at": now,
    }
    values.update(changes)
    return Attempt(**values)  # type: ignore[arg-type]


def _redeem(database: Database, merchant_id: int, ticket_id: int, now: datetime) -> LoggedRecord:
    with database.sessions.begin() as session:
        ticket = tickets_repo.ticket_snapshot(session, merchant_id, ticket_id)
        assert ticket is not None
        return service.check_in(session, merchant_id, ticket, CHECKER, _attempt(now)).record


def _records(database: Database, ticket_id: int) -> list[CheckinRecord]:
    with database.sessions() as session:
        query = select(CheckinRecord).where(CheckinRecord.ticket_id == ticket_id)
        return list(session.scalars(query.order_by(CheckinRecord.id)).all())


def _ticket(database: Database, merchant_id: int, ticket_id: int) -> Ticket:
    with database.sessions() as session:
        ticket = tickets_repo.get_ticket(session, merchant_id, ticket_id)
        assert ticket is not None
        return ticket


def test_fifty_concurrent_redeems_admit_exactly_one(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    barrier = threading.Barrier(CONCURRENT_REDEEMS)
    results: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def redeem() -> None:
        try:
            barrier.wait()
            record = _redeem(database, shop.merchant_id, ticket.id, clock())
            with lock:
                results.append((record.result.value, record.reason))
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=redeem) for _ in range(CONCURRENT_REDEEMS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Counter(results) == {
        ("admitted", reasons.ADMITTED): 1,
        ("rejected", reasons.ALREADY_USED): CONCURRENT_REDEEMS - 1,
    }
    rows = _records(database, ticket.id)
    assert len(rows) == CONCURRENT_REDEEMS
    assert [row.entry_no for row in rows if row.entry_no is not None] == [1]
    assert _ticket(database, shop.merchant_id, ticket.id).entries_used == 1


def test_a_ticket_with_n_entries_admits_n_times(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(
        database, shop.merchant_id, now=clock(), ticket_type=FakeTicketType(entries_allowed=3)
    )
    outcomes = [_redeem(database, shop.merchant_id, ticket.id, clock()) for _ in range(4)]
    assert [o.reason for o in outcomes] == [reasons.ADMITTED] * 3 + [reasons.ALREADY_USED]
    assert [o.entry_no for o in outcomes] == [1, 2, 3, None]


def test_unlimited_tickets_keep_counting(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(
        database, shop.merchant_id, now=clock(), ticket_type=FakeTicketType(entries_allowed=0)
    )
    outcomes = [_redeem(database, shop.merchant_id, ticket.id, clock()) for _ in range(5)]
    assert all(o.result is CheckinResult.ADMITTED for o in outcomes)
    assert _ticket(database, shop.merchant_id, ticket.id).entries_used == 5


def test_a_revoked_ticket_is_refused_and_the_refusal_logged(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        tickets_service.revoke_tickets(session, shop.merchant_id, [ticket.id], "refund", clock())
    record = _redeem(database, shop.merchant_id, ticket.id, clock())
    assert (record.result, record.reason) == (CheckinResult.REJECTED, reasons.REVOKED)
    assert len(_records(database, ticket.id)) == 1


def test_the_validity_window_is_judged_at_the_scan_time(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    window = FakeTicketType(
        valid_from=clock() + timedelta(hours=1), valid_until=clock() + timedelta(hours=2)
    )
    (ticket,) = issue(database, shop.merchant_id, now=clock(), ticket_type=window)
    assert _redeem(database, shop.merchant_id, ticket.id, clock()).reason == reasons.NOT_YET_VALID
    late = clock() + timedelta(hours=3)
    assert _redeem(database, shop.merchant_id, ticket.id, late).reason == reasons.EXPIRED
    inside = clock() + timedelta(minutes=90)
    assert _redeem(database, shop.merchant_id, ticket.id, inside).reason == reasons.ADMITTED


def test_the_log_is_append_only(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    record = _redeem(database, shop.merchant_id, ticket.id, clock())
    with database.sessions() as session:
        stored = session.get(CheckinRecord, record.id)
        assert stored is not None
        stored.reason = "edited"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        with pytest.raises(AppendOnlyViolation):
            session.execute(update(CheckinRecord).values(reason="edited"))
        session.rollback()
        stored = session.get(CheckinRecord, record.id)
        session.delete(stored)
        with pytest.raises(AppendOnlyViolation):
            session.flush()


# --- gate scans --------------------------------------------------------------------------------


def test_control_characters_in_typed_text_are_logged_safely(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    """PostgreSQL refuses NUL in text: the refusal is still logged, with the character replaced."""
    merchant_id = _shop_id(accounts)
    with database.sessions.begin() as session:
        outcome = service.check_code(
            session, merchant_id, CHECKER, "12\x0034\x07" + "9" * 100, _attempt(clock())
        )
    assert outcome.record.reason == reasons.MALFORMED
    assert outcome.record.presented == "12\ufffd34\ufffd" + "9" * 58


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(presented=st.text(max_size=80) | st.from_regex(r"[0-9 \-]{10,16}", fullmatch=True))
def test_any_typed_text_is_logged_as_one_clear_refusal(
    presented: str, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    merchant_id = _shop_id(accounts)
    with database.sessions.begin() as session:
        outcome = service.check_code(session, merchant_id, CHECKER, presented, _attempt(clock()))
    assert outcome.ticket is None and not outcome.admitted
    assert outcome.record.reason in {
        reasons.MALFORMED,
        reasons.BAD_CHECK_DIGIT,
        reasons.UNKNOWN_TICKET,
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(credential=st.text(max_size=300))
def test_any_scanned_text_is_logged_as_one_clear_refusal(
    credential: str, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    merchant_id = _shop_id(accounts)
    with database.sessions.begin() as session:
        outcome = service.check_credential(
            session, merchant_id, CHECKER, credential, _attempt(clock())
        )
    assert outcome.ticket is None and outcome.record.result is CheckinResult.REJECTED
    assert outcome.record.reason in reasons.ALL_REASONS


_shops: dict[int, int] = {}


def _shop_id(accounts: AccountFactory) -> int:
    """One merchant per test database (hypothesis reuses the function's fixtures)."""
    key = id(accounts)
    if key not in _shops:
        _shops[key] = accounts.merchant().merchant_id
    return _shops[key]
