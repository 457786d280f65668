"""Every SQL statement about carts, orders and refunds.

Order state changes are conditional ``UPDATE ... WHERE status IN (...)``: whoever's update hits
the row does the follow-up (give stock back, issue tickets), so two server instances, or an
expiry sweep racing a payment, can never both act on one order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from server.catalog.models import TicketType
from server.sales.models import (
    CartItem,
    ItemStatus,
    Order,
    OrderItem,
    OrderStatus,
    Refund,
    RefundRequest,
    RefundRequestStatus,
    order_payments,
)
from server.tenancy import get_owned, scoped_select
from server.tickets.models import Ticket, TicketStatus

# --- cart ---------------------------------------------------------------------------------------


def list_cart(session: Session, user_id: int) -> Sequence[CartItem]:
    query = (
        select(CartItem)
        .where(CartItem.user_id == user_id)
        .options(selectinload(CartItem.ticket_type))
        .order_by(CartItem.id)
    )
    return session.scalars(query).all()


def count_cart_items_of_type(session: Session, user_id: int, ticket_type_id: int) -> int:
    query = select(func.count()).where(
        CartItem.user_id == user_id, CartItem.ticket_type_id == ticket_type_id
    )
    return session.scalar(query) or 0


def get_cart_item(session: Session, user_id: int, item_id: int) -> CartItem | None:
    item = session.get(CartItem, item_id)
    return item if item is not None and item.user_id == user_id else None


def clear_cart(session: Session, user_id: int, item_ids: Collection[int]) -> None:
    session.execute(
        delete(CartItem)
        .where(CartItem.user_id == user_id, CartItem.id.in_(list(item_ids)))
        .execution_options(synchronize_session=False)
    )


def add(session: Session, row: CartItem | Order | OrderItem | Refund | RefundRequest) -> None:
    session.add(row)
    session.flush()


def delete_row(session: Session, row: CartItem) -> None:
    session.delete(row)
    session.flush()


# --- orders -------------------------------------------------------------------------------------


def _with_items(query: Any) -> Any:
    return query.options(selectinload(Order.items).selectinload(OrderItem.ticket_type))


def get_order(session: Session, merchant_id: int, order_id: int) -> Order | None:
    return get_owned(session, Order, merchant_id, order_id)


def get_visitor_order(session: Session, user_id: int, order_id: int) -> Order | None:
    order = session.get(Order, order_id)
    return order if order is not None and order.visitor_user_id == user_id else None


def get_orders_by_ids(session: Session, order_ids: Collection[int]) -> Sequence[Order]:
    query = _with_items(select(Order).where(Order.id.in_(list(order_ids))).order_by(Order.id))
    result: Sequence[Order] = session.scalars(query).all()
    return result


def list_visitor_orders(
    session: Session, user_id: int, statuses: Collection[OrderStatus] | None = None
) -> Sequence[Order]:
    query = select(Order).where(Order.visitor_user_id == user_id)
    if statuses:
        query = query.where(Order.status.in_(list(statuses)))
    result: Sequence[Order] = session.scalars(_with_items(query.order_by(Order.id.desc()))).all()
    return result


def list_merchant_orders(
    session: Session,
    merchant_id: int,
    *,
    statuses: Collection[OrderStatus] | None,
    limit: int,
    offset: int,
) -> Sequence[Order]:
    query = scoped_select(Order, merchant_id)
    if statuses:
        query = query.where(Order.status.in_(list(statuses)))
    query = query.order_by(Order.id.desc()).limit(limit).offset(offset)
    result: Sequence[Order] = session.scalars(_with_items(query)).all()
    return result


def lock_order(session: Session, order: Order) -> None:
    """Row-lock the order until the transaction ends and read it and its items afresh.

    Everything that changes which of an order's items are refunded or asked back (a refund, a
    visitor's request, an approval) takes this lock first, so they happen one after the other
    per order and each sees what the previous one committed. (A revocation only narrows or
    closes a pending request, under the request's row lock and not this one: see
    :func:`server.sales.service.on_tickets_revoked`.) ``FOR UPDATE`` on PostgreSQL; on
    SQLite the write transaction already holds the database's write lock.
    """
    session.scalars(
        select(Order)
        .where(Order.id == order.id)
        .with_for_update(of=Order)
        .options(selectinload(Order.items))
        .execution_options(populate_existing=True)
    ).one()  # fetched, so that the rows as locked overwrite the session's copies


def transition(
    session: Session,
    order_id: int,
    *,
    from_statuses: Collection[OrderStatus],
    values: dict[str, Any],
    expired_by: datetime | None = None,
) -> bool:
    """Move an order to new values if it is still in one of ``from_statuses`` (and, with
    ``expired_by``, its ``expires_at`` has passed). True if this call made the change."""
    query = update(Order).where(Order.id == order_id, Order.status.in_(list(from_statuses)))
    if expired_by is not None:
        query = query.where(Order.expires_at <= expired_by)
    result = session.execute(query.values(**values).execution_options(synchronize_session=False))
    changed: bool = getattr(result, "rowcount", 0) == 1
    if changed:
        order = session.get(Order, order_id)
        if order is not None:
            session.refresh(order)
    return changed


def expired_orders(
    session: Session, statuses: Collection[OrderStatus], now: datetime, limit: int
) -> list[tuple[int, OrderStatus]]:
    """(id, status) of orders in ``statuses`` whose ``expires_at`` has passed, oldest first."""
    query = (
        select(Order.id, Order.status)
        .where(Order.status.in_(list(statuses)), Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return [(order_id, status) for order_id, status in session.execute(query)]


def link_payment(session: Session, payment_id: int, order_ids: Collection[int]) -> None:
    session.execute(
        insert(order_payments),
        [{"order_id": order_id, "payment_id": payment_id} for order_id in order_ids],
    )


def orders_of_payment(session: Session, payment_id: int) -> Sequence[Order]:
    query = (
        select(Order)
        .join(order_payments, order_payments.c.order_id == Order.id)
        .where(order_payments.c.payment_id == payment_id)
        .order_by(Order.id)
    )
    result: Sequence[Order] = session.scalars(_with_items(query)).all()
    return result


def set_items_refunded(session: Session, item_ids: Collection[int], now: datetime) -> None:
    session.execute(
        update(OrderItem)
        .where(OrderItem.id.in_(list(item_ids)), OrderItem.status == ItemStatus.ACTIVE)
        .values(status=ItemStatus.REFUNDED, refunded_at=now)
        .execution_options(synchronize_session=False)
    )


def add_refunded_amount(session: Session, order_id: int, amount_fen: int) -> None:
    session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(refunded_fen=Order.refunded_fen + amount_fen)
        .execution_options(synchronize_session=False)
    )


def ticket_types_by_id(session: Session, ids: Collection[int]) -> dict[int, TicketType]:
    query = (
        select(TicketType)
        .where(TicketType.id.in_(list(ids)))
        # The event in the same SELECT (sale window, approval deadline); the zones are not
        # needed to place an order (an extra query per order on the busiest write path).
        .options(joinedload(TicketType.event))
    )
    return {ticket_type.id: ticket_type for ticket_type in session.scalars(query)}


# --- refund requests ----------------------------------------------------------------------------


def add_refund_request_once(session: Session, request: RefundRequest) -> bool:
    """Store a pending request; False if the order already has one (a concurrent request won)."""
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:
        return False
    return True


def pending_refund_request(session: Session, order_id: int) -> RefundRequest | None:
    return session.scalar(select(RefundRequest).where(RefundRequest.pending_order_id == order_id))


def pending_request_items(session: Session, order_id: int) -> tuple[int, list[int]] | None:
    """(id, item ids) of the order's pending request as stored (not the session's copy)."""
    query = select(RefundRequest.id, RefundRequest.item_ids).where(
        RefundRequest.pending_order_id == order_id
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], list(row[1]))


def lock_pending_refund_request(session: Session, request_id: int) -> RefundRequest | None:
    """The request row-locked until the transaction ends and read afresh, if still pending
    (``FOR UPDATE``; on SQLite the write transaction already holds the write lock)."""
    query = (
        select(RefundRequest)
        .where(RefundRequest.id == request_id, RefundRequest.status == RefundRequestStatus.PENDING)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(query)


class RequestedItem(NamedTuple):
    """An order item a refund request names, and its ticket as stored now (ticket columns
    null when no ticket was issued for it)."""

    item_id: int
    price_fen: int
    item_status: ItemStatus
    ticket_id: int | None
    ticket_status: TicketStatus | None
    entries_used: int | None


def requested_items(session: Session, item_ids: Collection[int]) -> dict[int, RequestedItem]:
    """Each of these order items with its ticket as stored now, in one query (items that do
    not exist are left out)."""
    if not item_ids:
        return {}
    query = (
        select(
            OrderItem.id,
            OrderItem.price_fen,
            OrderItem.status,
            Ticket.id,
            Ticket.status,
            Ticket.entries_used,
        )
        .outerjoin(Ticket, Ticket.order_item_id == OrderItem.id)
        .where(OrderItem.id.in_(sorted(set(item_ids))))
    )
    return {row[0]: RequestedItem(*row) for row in session.execute(query)}


def pending_refund_requests_page(
    session: Session, *, after_id: int, limit: int
) -> list[tuple[int, list[int]]]:
    """(id, item ids) of up to ``limit`` pending requests with ids above ``after_id``, ascending
    (the periodic sweep pages through the queue this way)."""
    query = (
        select(RefundRequest.id, RefundRequest.item_ids)
        .where(RefundRequest.status == RefundRequestStatus.PENDING, RefundRequest.id > after_id)
        .order_by(RefundRequest.id)
        .limit(limit)
    )
    return [(request_id, list(item_ids)) for request_id, item_ids in session.execute(query)]


def latest_refund_of_items(
    session: Session, order_id: int, item_ids: Collection[int]
) -> Refund | None:
    """The newest refund of the order that gave back any of these items."""
    wanted = set(item_ids)
    query = select(Refund).where(Refund.order_id == order_id).order_by(Refund.id.desc())
    for refund in session.scalars(query):
        if wanted.intersection(refund.item_ids):
            return refund
    return None


def get_refund_request(session: Session, merchant_id: int, request_id: int) -> RefundRequest | None:
    return get_owned(session, RefundRequest, merchant_id, request_id)


def get_visitor_refund_request(
    session: Session, user_id: int, request_id: int
) -> RefundRequest | None:
    request = session.get(RefundRequest, request_id)
    return request if request is not None and request.visitor_user_id == user_id else None


def list_visitor_refund_requests(session: Session, user_id: int) -> Sequence[RefundRequest]:
    query = (
        select(RefundRequest)
        .where(RefundRequest.visitor_user_id == user_id)
        .options(selectinload(RefundRequest.order))
        .order_by(RefundRequest.id.desc())
    )
    return session.scalars(query).all()


def list_refund_requests(
    session: Session,
    merchant_id: int,
    *,
    statuses: Collection[RefundRequestStatus],
    limit: int,
    offset: int,
) -> Sequence[RefundRequest]:
    query = (
        scoped_select(RefundRequest, merchant_id)
        .where(RefundRequest.status.in_(list(statuses)))
        .options(selectinload(RefundRequest.order))
        .order_by(RefundRequest.id)
        .limit(limit)
        .offset(offset)
    )
    return session.scalars(query).all()


def decide_refund_request(
    session: Session, request_id: int, status: RefundRequestStatus, values: dict[str, Any]
) -> bool:
    """Move a pending request to ``status``; True if this call did (once per request)."""
    result = session.execute(
        update(RefundRequest)
        .where(RefundRequest.id == request_id, RefundRequest.status == RefundRequestStatus.PENDING)
        .values(status=status, pending_order_id=None, **values)
        .execution_options(synchronize_session=False)
    )
    changed: bool = getattr(result, "rowcount", 0) == 1
    if changed:
        request = session.get(RefundRequest, request_id)
        if request is not None:
            session.refresh(request)
    return changed


def narrow_refund_request(
    session: Session, request_id: int, item_ids: list[int], amount_fen: int
) -> bool:
    """Shrink a pending request to the items it still asks for; True if it was still pending."""
    result = session.execute(
        update(RefundRequest)
        .where(RefundRequest.id == request_id, RefundRequest.status == RefundRequestStatus.PENDING)
        .values(item_ids=item_ids, amount_fen=amount_fen)
        .execution_options(synchronize_session=False)
    )
    changed: bool = getattr(result, "rowcount", 0) == 1
    if changed:
        request = session.get(RefundRequest, request_id)
        if request is not None:
            session.refresh(request)
    return changed


def set_refund_of_request(session: Session, request_id: int, refund_id: int) -> None:
    session.execute(
        update(RefundRequest)
        .where(RefundRequest.id == request_id)
        .values(refund_id=refund_id)
        .execution_options(synchronize_session=False)
    )
