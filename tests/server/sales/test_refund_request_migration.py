"""The revision that brought ``superseded`` refund requests settles requests already left
pending by a direct refund (they could never be approved): a request whose tickets were all
refunded is closed, one with some refunded is narrowed to the rest, others are left alone; on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from server.accounts.models import Merchant, MerchantStatus
from server.catalog.models import Event, TicketType, Venue
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

BEFORE = "4c39fa6084dd"
AT = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def _ticket_type(session: Session) -> TicketType:
    merchant = Merchant(
        name="Shop",
        contact_name="",
        contact_phone="+8613800138000",
        status=MerchantStatus.ACTIVE,
        events_public=True,
        rejection_reason="",
        created_at=AT,
        updated_at=AT,
    )
    session.add(merchant)
    session.flush()
    venue = Venue(merchant_id=merchant.id, slug="garden", name="Garden", created_at=AT)
    session.add(venue)
    session.flush()
    event = Event(
        merchant_id=merchant.id,
        venue_id=venue.id,
        name="Fair",
        starts_at=AT + timedelta(days=1),
        ends_at=AT + timedelta(days=2),
        public=True,
        created_at=AT,
        updated_at=AT,
    )
    session.add(event)
    session.flush()
    ticket_type = TicketType(
        merchant_id=merchant.id,
        event_id=event.id,
        name="Day",
        price_fen=100,
        currency="CNY",
        is_free=False,
        stock=100,
        sold=0,
        per_order_limit=10,
        enabled=True,
        hide_remaining=False,
        needs_visit_date=False,
        holder_fields={},
        approval_required=False,
        entries_allowed=1,
        restock_on_refund=False,
        created_at=AT,
        updated_at=AT,
    )
    session.add(ticket_type)
    session.flush()
    return ticket_type


def _order_asking_back(
    session: Session, ticket_type: TicketType, refunded: list[bool], asked: list[int]
) -> int:
    """A paid order of ``len(refunded)`` tickets (those marked True already refunded) with a
    pending request for the items at positions ``asked``; the request's id."""
    order = Order(
        merchant_id=ticket_type.merchant_id,
        status=OrderStatus.REFUNDED if all(refunded) else OrderStatus.PAID,
        total_fen=100 * len(refunded),
        currency="CNY",
        refunded_fen=100 * sum(refunded),
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
            status=ItemStatus.REFUNDED if gone else ItemStatus.ACTIVE,
        )
        for gone in refunded
    ]
    session.add(order)
    session.flush()
    return _pending_request(session, order, [order.items[position].id for position in asked])


def _pending_request(session: Session, order: Order, item_ids: list[int]) -> int:
    """A visitor's pending request for these items of ``order`` (100 each); its id."""
    request = RefundRequest(
        merchant_id=order.merchant_id,
        order_id=order.id,
        item_ids=item_ids,
        amount_fen=100 * len(item_ids),
        reason="cannot come",
        status=RefundRequestStatus.PENDING,
        pending_order_id=order.id,
        created_at=AT,
        decision_note="",
    )
    session.add(request)
    session.flush()
    return request.id


def test_requests_overtaken_by_a_direct_refund_are_closed_or_narrowed(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session, session.begin():
            ticket_type = _ticket_type(session)
            whole = _order_asking_back(session, ticket_type, [True, True], [0])
            asked_ones = _order_asking_back(session, ticket_type, [True, False], [0])
            some = _order_asking_back(session, ticket_type, [True, False, False], [0, 1])
            untouched = _order_asking_back(session, ticket_type, [False, False], [0, 1])
            item_ids = {
                request_id: session.get_one(RefundRequest, request_id).item_ids
                for request_id in (some, untouched)
            }
        upgraded_at = datetime.now(UTC)
        upgrade(empty_database_url)
        with Session(engine) as session:
            found = {
                request_id: session.get_one(RefundRequest, request_id)
                for request_id in (whole, asked_ones, some, untouched)
            }
    finally:
        engine.dispose()
    for closed in (found[whole], found[asked_ones]):
        assert closed.status is RefundRequestStatus.SUPERSEDED
        assert closed.pending_order_id is None
        assert closed.decided_at is not None and closed.decided_at >= upgraded_at
    narrowed = found[some]
    assert narrowed.status is RefundRequestStatus.PENDING
    assert (narrowed.item_ids, narrowed.amount_fen) == (item_ids[some][1:], 100)
    assert narrowed.pending_order_id == narrowed.order_id
    left = found[untouched]
    assert (left.status, left.item_ids, left.amount_fen) == (
        RefundRequestStatus.PENDING,
        item_ids[untouched],
        200,
    )
