"""Issuance and revocation (seam 1), the signals they send (seam 2), and ticket states."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from protocol import codes
from protocol.allowlist import hash_code
from protocol.signing import Keyring, VerifiedTicket, verify_ticket
from server.clock import ManualClock
from server.db import Database
from server.signals import tickets_issued, tickets_revoked
from server.tickets import keys, service
from server.tickets.models import Ticket, TicketStatus
from server.tickets.service import TicketState
from tests.server.helpers import AccountFactory
from tests.server.tickets.orders import FakeItem, FakeOrder, FakeTicketType, issue


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, session: Session, tickets: Sequence[Any]) -> None:
        self.calls.append([ticket.id for ticket in tickets])


@pytest.fixture
def issued_signal() -> Iterator[Recorder]:
    recorder = Recorder()
    tickets_issued.connect(recorder)
    yield recorder
    tickets_issued.disconnect(recorder)


@pytest.fixture
def revoked_signal() -> Iterator[Recorder]:
    recorder = Recorder()
    tickets_revoked.connect(recorder)
    yield recorder
    tickets_revoked.disconnect(recorder)


def test_one_ticket_per_item_with_a_valid_code_and_credential(
    database: Database, accounts: AccountFactory, clock: ManualClock, issued_signal: Recorder
) -> None:
    shop = accounts.merchant()
    ticket_type = FakeTicketType(event_id=3, id=11, entries_allowed=2)
    tickets = issue(database, shop.merchant_id, count=3, now=clock(), ticket_type=ticket_type)

    assert len({t.code for t in tickets}) == 3
    assert all(codes.is_valid(t.code) for t in tickets)
    with database.sessions.begin() as session:
        salt = keys.code_salt_for_merchant(session, shop.merchant_id)
        keyring = Keyring.from_dict(
            {str(k): v for k, v in keys.keyring_for_merchant(session, shop.merchant_id).items()}
        )
    for ticket in tickets:
        assert ticket.code_hash == hash_code(ticket.code, salt)
        verified = verify_ticket(ticket.credential, keyring)
        assert isinstance(verified, VerifiedTicket)
        claims = verified.claims
        assert (claims.ticket_id, claims.event_id, claims.zone, claims.entries) == (
            ticket.id,
            3,
            11,
            2,
        )
    assert issued_signal.calls == [[t.id for t in tickets]]


def test_issuing_the_same_order_again_returns_its_tickets_without_a_signal(
    database: Database, accounts: AccountFactory, clock: ManualClock, issued_signal: Recorder
) -> None:
    shop = accounts.merchant()
    order = FakeOrder(merchant_id=shop.merchant_id, items=[FakeItem(), FakeItem()])
    with database.sessions.begin() as session:
        first = [t.id for t in service.issue_for_order(session, order, now=clock())]
    with database.sessions.begin() as session:
        second = [t.id for t in service.issue_for_order(session, order, now=clock())]
    assert first == second
    assert issued_signal.calls == [first]


def test_a_failing_receiver_rolls_back_the_issuance(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()

    def refuse(session: Session, tickets: Sequence[Any]) -> None:
        raise RuntimeError("fleet is down")

    tickets_issued.connect(refuse)
    try:
        with pytest.raises(RuntimeError):
            issue(database, shop.merchant_id, now=clock())
    finally:
        tickets_issued.disconnect(refuse)
    with database.sessions() as session:
        assert service.find_tickets(session, shop.merchant_id) == []


def test_revoking_an_order_revokes_its_tickets_once(
    database: Database, accounts: AccountFactory, clock: ManualClock, revoked_signal: Recorder
) -> None:
    shop = accounts.merchant()
    order = FakeOrder(merchant_id=shop.merchant_id, items=[FakeItem(), FakeItem()])
    with database.sessions.begin() as session:
        ids = [t.id for t in service.issue_for_order(session, order, now=clock())]
    with database.sessions.begin() as session:
        revoked = service.revoke_for_order(session, order, "refund", now=clock())
        assert [t.id for t in revoked] == ids
        assert {t.status for t in revoked} == {TicketStatus.REVOKED}
    with database.sessions.begin() as session:
        assert service.revoke_for_order(session, order, "refund again") == []
    assert revoked_signal.calls == [ids]


def test_a_partial_refund_revokes_only_the_items_passed(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    kept, refunded = FakeItem(), FakeItem()
    order = FakeOrder(merchant_id=shop.merchant_id, items=[kept, refunded])
    with database.sessions.begin() as session:
        service.issue_for_order(session, order, now=clock())
    partial = FakeOrder(merchant_id=shop.merchant_id, items=[refunded], id=order.id)
    with database.sessions.begin() as session:
        service.revoke_for_order(session, partial, "refund", now=clock())
    with database.sessions() as session:
        by_item = {
            t.order_item_id: t.status for t in service.find_tickets(session, shop.merchant_id)
        }
    assert by_item == {kept.id: TicketStatus.VALID, refunded.id: TicketStatus.REVOKED}


def test_a_visit_date_limits_the_ticket_to_that_day(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    day = clock().date() + timedelta(days=3)
    order = FakeOrder(merchant_id=shop.merchant_id, items=[FakeItem(visit_date=day)])
    with database.sessions.begin() as session:
        (ticket,) = service.issue_for_order(session, order, now=clock(), timezone="UTC")
    assert ticket.valid_from == datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    assert ticket.valid_until == ticket.valid_from + timedelta(days=1)


def _ticket(entries_allowed: int, used: int, **changes: Any) -> Ticket:
    values: dict[str, Any] = {
        "status": TicketStatus.VALID,
        "entries_allowed": entries_allowed,
        "entries_used": used,
        "valid_from": None,
        "valid_until": None,
    }
    values.update(changes)
    return Ticket(**values)


NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ticket", "state"),
    [
        (_ticket(1, 0), TicketState.PENDING),
        (_ticket(1, 1), TicketState.USED),
        (_ticket(3, 1), TicketState.PENDING),
        (_ticket(0, 5), TicketState.PENDING),
        (_ticket(1, 0, status=TicketStatus.REVOKED), TicketState.VOID),
        (_ticket(2, 1, status=TicketStatus.REVOKED), TicketState.USED),
        (_ticket(1, 0, valid_until=NOW), TicketState.VOID),
        (_ticket(0, 1, valid_until=NOW), TicketState.USED),
    ],
)
def test_ticket_state(ticket: Ticket, state: TicketState) -> None:
    assert service.ticket_state(ticket, NOW) is state


def test_visitor_tickets_are_split_by_state(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    visitor = accounts.visitor()
    first, second = issue(
        database, shop.merchant_id, count=2, visitor_user_id=visitor.user_id, now=clock()
    )
    with database.sessions.begin() as session:
        service.revoke_tickets(session, shop.merchant_id, [second.id], "fraud", clock())
    with database.sessions() as session:
        split = service.visitor_tickets(session, visitor.user_id, clock())
    assert [t.id for t in split.pending] == [first.id]
    assert [t.id for t in split.void] == [second.id]
    assert split.used == []
