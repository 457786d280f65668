"""The revision that brought ``voided`` refund requests settles requests already left pending
with tickets revoked without a refund (they could never be approved as they stood): nothing left
to refund closes it, some left narrows it to those (used tickets dropped too), a request with no
revoked ticket is left alone; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from server.catalog.models import TicketType
from server.db import make_engine
from server.migrate import upgrade
from server.sales.models import (
    ItemStatus,
    Order,
    OrderItem,
    OrderStatus,
    RefundRequest,
    RefundRequestStatus,
)
from server.tickets.models import Ticket, TicketStatus
from tests.server.sales.test_refund_request_migration import AT, _pending_request, _ticket_type

BEFORE = "8f23910d0ff0"


def _order_asking_back(session: Session, ticket_type_id: int, tickets: str) -> int:
    """A paid order with one ticket per letter of ``tickets`` (``v`` valid, ``r`` revoked,
    ``u`` used) and a pending request for all of them; the request's id."""
    ticket_type = session.get_one(TicketType, ticket_type_id)
    order = Order(
        merchant_id=ticket_type.merchant_id,
        status=OrderStatus.PAID,
        total_fen=100 * len(tickets),
        currency="CNY",
        refunded_fen=0,
        created_at=AT,
        paid_at=AT,
        decision_note="",
    )
    order.items = [
        OrderItem(
            merchant_id=ticket_type.merchant_id,
            ticket_type_id=ticket_type.id,
            price_fen=100,
            holder_fields={},
            status=ItemStatus.ACTIVE,
        )
        for _ in tickets
    ]
    session.add(order)
    session.flush()
    for item, state in zip(order.items, tickets, strict=True):
        session.add(
            Ticket(
                merchant_id=ticket_type.merchant_id,
                event_id=ticket_type.event_id,
                ticket_type_id=ticket_type.id,
                order_id=order.id,
                order_item_id=item.id,
                holder_name="",
                holder_fields={},
                code=f"{item.id:012d}",
                code_hash=f"{item.id:032d}",
                status=TicketStatus.REVOKED if state == "r" else TicketStatus.VALID,
                entries_allowed=1,
                entries_used=1 if state == "u" else 0,
                last_entry_no=1 if state == "u" else 0,
                key_id=1,
                credential="x",
                issued_at=AT,
                revoked_at=AT if state == "r" else None,
                revoke_reason="lost" if state == "r" else "",
            )
        )
    return _pending_request(session, order, [item.id for item in order.items])


def test_requests_with_tickets_revoked_without_a_refund_are_voided_or_narrowed(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session, session.begin():
            type_id = _ticket_type(session).id
            cases = {
                shape: _order_asking_back(session, type_id, shape)
                for shape in ("rr", "ru", "rvu", "uv", "vv")
            }
            asked = {
                shape: session.get_one(RefundRequest, request_id).item_ids
                for shape, request_id in cases.items()
            }
        upgraded_at = datetime.now(UTC)
        upgrade(empty_database_url)
        with Session(engine) as session:
            found = {
                shape: session.get_one(RefundRequest, request_id)
                for shape, request_id in cases.items()
            }
    finally:
        engine.dispose()
    for shape in ("rr", "ru"):
        closed = found[shape]
        assert closed.status is RefundRequestStatus.VOIDED
        assert closed.pending_order_id is None
        assert closed.decided_at is not None and closed.decided_at >= upgraded_at
    narrowed = found["rvu"]
    assert narrowed.status is RefundRequestStatus.PENDING
    assert (narrowed.item_ids, narrowed.amount_fen) == ([asked["rvu"][1]], 100)
    assert narrowed.pending_order_id == narrowed.order_id
    for shape in ("uv", "vv"):  # nothing revoked: a used ticket alone changes nothing here
        left = found[shape]
        assert (left.status, left.item_ids, left.amount_fen) == (
            RefundRequestStatus.PENDING,
            asked[shape],
            200,
        )
