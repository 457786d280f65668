"""Sales rules: carts, orders with atomically reserved stock, expiry, approval, payment
settlement and refunds.

Prices always come from the ticket types at the moment the order is placed; the client only
says which ticket type and who holds each ticket. Stock is taken with
:func:`server.catalog.repository.reserve_stock` (a conditional ``UPDATE``) and every order state
change is a conditional ``UPDATE`` too, so giving stock back happens once per order whatever
races (see :mod:`server.sales.repository`). Tickets are issued through
``server.tickets.service.issue_for_order`` in the same transaction as the payment.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server import signals
from server.catalog import repository as catalog_repo
from server.catalog.holders import HolderFieldConfig, validate_holder
from server.catalog.models import TicketType
from server.catalog.service import is_on_sale
from server.clock import utc_now
from server.errors import AdmitError, Conflict, Invalid, NotFound
from server.payments import service as payments
from server.payments.models import Payment
from server.payments.providers import PaymentProvider
from server.sales import messages as _messages  # noqa: F401  (registers the texts)
from server.sales import repository as repo
from server.sales.models import (
    CartItem,
    CloseReason,
    ItemStatus,
    Order,
    OrderItem,
    OrderStatus,
    Refund,
    RefundBlock,
    RefundRequest,
    RefundRequestStatus,
)
from server.sales.settings import SalesSettings
from server.tickets import repository as tickets_repo
from server.tickets import service as tickets
from server.tickets.models import Ticket, TicketStatus

log = logging.getLogger(__name__)

EXPIRY_BATCH = 500


@dataclass(frozen=True)
class TicketRequest:
    """One ticket a visitor wants: its type and its holder, as sent (validated here)."""

    ticket_type_id: int
    holder_name: str | None = None
    holder_phone: str | None = None
    holder_fields: dict[str, Any] = field(default_factory=dict)
    visit_date: date | None = None


@dataclass(frozen=True)
class _CheckedTicket:
    ticket_type: TicketType
    holder_name: str | None
    holder_phone: str | None
    holder_fields: dict[str, str]
    visit_date: date | None


@dataclass(frozen=True)
class RefundedPart:
    """The refunded items of an order, shaped like an order for ``revoke_for_order``."""

    id: int
    merchant_id: int
    visitor_user_id: int | None
    items: list[OrderItem]


# --- checking one ticket ------------------------------------------------------------------------


def _venue_today(ticket_type: TicketType, now: datetime) -> date:
    return now.astimezone(ZoneInfo(ticket_type.event.venue.timezone)).date()


def _check_visit_date(ticket_type: TicketType, visit_date: date | None, now: datetime) -> None:
    if visit_date is None:
        raise Invalid("sales.visit_date_required", name=ticket_type.name)
    zone = ZoneInfo(ticket_type.event.venue.timezone)
    last_day = ticket_type.event.ends_at.astimezone(zone).date()
    if visit_date < _venue_today(ticket_type, now) or visit_date > last_day:
        raise Invalid("sales.visit_date_invalid", detail={"visit_date": visit_date.isoformat()})


def check_ticket(ticket_type: TicketType, request: TicketRequest, now: datetime) -> _CheckedTicket:
    """Is this ticket type on sale, and are the holder details and visit date acceptable?"""
    if not is_on_sale(ticket_type, now):
        raise Conflict(
            "sales.not_on_sale", name=ticket_type.name, detail={"ticket_type_id": ticket_type.id}
        )
    visit_date = None
    if ticket_type.needs_visit_date:
        _check_visit_date(ticket_type, request.visit_date, now)
        visit_date = request.visit_date
    holder = validate_holder(
        HolderFieldConfig.model_validate(ticket_type.holder_fields),
        name=request.holder_name,
        phone=request.holder_phone,
        fields=request.holder_fields,
    )
    return _CheckedTicket(ticket_type, holder.name, holder.phone, holder.fields, visit_date)


def _load_ticket_types(session: Session, ids: Collection[int]) -> dict[int, TicketType]:
    ticket_types = repo.ticket_types_by_id(session, set(ids))
    missing = set(ids) - set(ticket_types)
    if missing:
        raise NotFound("catalog.ticket_type_not_found", detail={"ticket_type_id": min(missing)})
    return ticket_types


# --- cart ---------------------------------------------------------------------------------------


def add_to_cart(session: Session, user_id: int, request: TicketRequest, now: datetime) -> CartItem:
    """Put one ticket with its holder in the visitor's cart (no stock is taken yet)."""
    ticket_type = _load_ticket_types(session, [request.ticket_type_id])[request.ticket_type_id]
    checked = check_ticket(ticket_type, request, now)
    already = repo.count_cart_items_of_type(session, user_id, ticket_type.id)
    if already + 1 > ticket_type.per_order_limit:
        raise Invalid(
            "sales.per_order_limit", name=ticket_type.name, limit=ticket_type.per_order_limit
        )
    item = CartItem(
        merchant_id=ticket_type.merchant_id,
        user_id=user_id,
        ticket_type_id=ticket_type.id,
        holder_name=checked.holder_name,
        holder_phone=checked.holder_phone,
        holder_fields=checked.holder_fields,
        visit_date=checked.visit_date,
        created_at=now,
    )
    repo.add(session, item)
    return item


def list_cart(session: Session, user_id: int) -> Sequence[CartItem]:
    return repo.list_cart(session, user_id)


def remove_from_cart(session: Session, user_id: int, item_id: int) -> None:
    item = repo.get_cart_item(session, user_id, item_id)
    if item is None:
        raise NotFound("sales.cart_item_not_found")
    repo.delete_row(session, item)


def checkout_cart(
    session: Session, user_id: int, now: datetime, config: SalesSettings
) -> list[Order]:
    """Turn the whole cart into orders (one per event); the cart is emptied."""
    cart = repo.list_cart(session, user_id)
    if not cart:
        raise Invalid("sales.cart_empty")
    requests = [
        TicketRequest(
            ticket_type_id=item.ticket_type_id,
            holder_name=item.holder_name,
            holder_phone=item.holder_phone,
            holder_fields=dict(item.holder_fields),
            visit_date=item.visit_date,
        )
        for item in cart
    ]
    orders = place_orders(session, user_id, requests, now, config)
    repo.clear_cart(session, user_id, [item.id for item in cart])
    return orders


# --- placing orders -----------------------------------------------------------------------------


def place_orders(
    session: Session,
    user_id: int | None,
    requests: Sequence[TicketRequest],
    now: datetime,
    config: SalesSettings,
) -> list[Order]:
    """Orders for these tickets, one per event, with their stock reserved (buy now, checkout).

    All or nothing: if any ticket type is off sale or sold out the error propagates and the
    caller's transaction rolls every reservation back.
    """
    if not requests:
        raise Invalid("sales.cart_empty")
    if len(requests) > config.max_tickets_per_checkout:
        raise Invalid("sales.too_many_tickets", limit=config.max_tickets_per_checkout)
    ticket_types = _load_ticket_types(session, {r.ticket_type_id for r in requests})
    checked = [check_ticket(ticket_types[r.ticket_type_id], r, now) for r in requests]
    by_event: dict[int, list[_CheckedTicket]] = {}
    for ticket in checked:
        by_event.setdefault(ticket.ticket_type.event_id, []).append(ticket)
    return [
        _place_order(session, user_id, tickets, now, config)
        for _, tickets in sorted(by_event.items())
    ]


def _place_order(
    session: Session,
    user_id: int | None,
    tickets: list[_CheckedTicket],
    now: datetime,
    config: SalesSettings,
) -> Order:
    counts: dict[int, int] = {}
    for ticket in tickets:
        counts[ticket.ticket_type.id] = counts.get(ticket.ticket_type.id, 0) + 1
    types = {ticket.ticket_type.id: ticket.ticket_type for ticket in tickets}
    currencies = {ticket_type.currency for ticket_type in types.values()}
    if len(currencies) != 1:
        raise Invalid("sales.mixed_currency")
    for type_id, count in counts.items():
        if count > types[type_id].per_order_limit:
            limit = types[type_id].per_order_limit
            raise Invalid("sales.per_order_limit", name=types[type_id].name, limit=limit)
    # Ascending id order: two buyers of the same types lock rows in the same order (no deadlock).
    for type_id in sorted(counts):
        if not catalog_repo.reserve_stock(session, type_id, counts[type_id]):
            raise Conflict(
                "sales.sold_out", name=types[type_id].name, detail={"ticket_type_id": type_id}
            )
    total = sum(ticket.ticket_type.price_fen for ticket in tickets)
    needs_approval = any(ticket_type.approval_required for ticket_type in types.values())
    expires_at: datetime | None
    if needs_approval:
        status = OrderStatus.AWAITING_APPROVAL
        expires_at = approval_deadline(tickets[0].ticket_type.event.ends_at, now, config)
    elif total == 0:
        status, expires_at = OrderStatus.PAID, None
    else:
        status, expires_at = OrderStatus.PENDING_PAYMENT, now + config.order_payment_ttl
    order = Order(
        merchant_id=tickets[0].ticket_type.merchant_id,
        visitor_user_id=user_id,
        status=status,
        total_fen=total,
        currency=currencies.pop(),
        refunded_fen=0,
        created_at=now,
        expires_at=expires_at,
        paid_at=now if status is OrderStatus.PAID else None,
        decision_note="",
    )
    order.items = [
        OrderItem(
            merchant_id=order.merchant_id,
            ticket_type_id=ticket.ticket_type.id,
            ticket_type=ticket.ticket_type,
            price_fen=ticket.ticket_type.price_fen,
            holder_name=ticket.holder_name,
            holder_phone=ticket.holder_phone,
            holder_fields=ticket.holder_fields,
            visit_date=ticket.visit_date,
            status=ItemStatus.ACTIVE,
        )
        for ticket in tickets
    ]
    repo.add(session, order)
    if status is OrderStatus.PAID:
        _issue_tickets(session, order, now)
    return order


def approval_deadline(event_ends_at: datetime, now: datetime, config: SalesSettings) -> datetime:
    """When an order placed ``now`` stops waiting for approval: after the approval TTL, or when
    its event ends if that is sooner (approving tickets to a past event helps nobody)."""
    return min(now + config.order_approval_ttl, event_ends_at)


def _issue_tickets(session: Session, order: Order, now: datetime) -> None:
    timezone = order.items[0].ticket_type.event.venue.timezone
    tickets.issue_for_order(session, order, now=now, timezone=timezone)


def _held_counts(items: Sequence[OrderItem]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for item in items:
        if item.status is ItemStatus.ACTIVE:
            counts[item.ticket_type_id] = counts.get(item.ticket_type_id, 0) + 1
    return counts


def _release_stock(session: Session, order: Order) -> None:
    for type_id, count in sorted(_held_counts(order.items).items()):
        catalog_repo.release_stock(session, type_id, count)


def _close(session: Session, order: Order, status: OrderStatus, **values: Any) -> bool:
    """Move an order that holds stock to a closed state and give its stock back, once."""
    open_statuses = {OrderStatus.AWAITING_APPROVAL, OrderStatus.PENDING_PAYMENT}
    if not repo.transition(
        session, order.id, from_statuses=open_statuses, values={"status": status, **values}
    ):
        return False
    _release_stock(session, order)
    return True


# --- visitors' orders ---------------------------------------------------------------------------


def get_visitor_order(session: Session, user_id: int, order_id: int) -> Order:
    order = repo.get_visitor_order(session, user_id, order_id)
    if order is None:
        raise NotFound("sales.order_not_found")
    return order


def list_visitor_orders(
    session: Session, user_id: int, statuses: Collection[OrderStatus] | None = None
) -> Sequence[Order]:
    return repo.list_visitor_orders(session, user_id, statuses)


def list_unpaid_orders(session: Session, user_id: int, now: datetime) -> list[Order]:
    """The visitor's orders waiting for payment whose time has not run out."""
    orders = repo.list_visitor_orders(session, user_id, [OrderStatus.PENDING_PAYMENT])
    return [order for order in orders if order.expires_at is not None and order.expires_at > now]


def cancel_order(session: Session, user_id: int, order_id: int, now: datetime) -> Order:
    order = get_visitor_order(session, user_id, order_id)
    if not _close(
        session,
        order,
        OrderStatus.CANCELLED,
        expires_at=None,
        decided_at=now,
        close_reason=CloseReason.CANCELLED,
    ):
        raise Conflict("sales.order_not_cancellable")
    return order


# --- expiry -------------------------------------------------------------------------------------


#: Why an open order expires, by the state it expires from.
_TIMEOUTS = {
    OrderStatus.PENDING_PAYMENT: CloseReason.PAYMENT_TIMEOUT,
    OrderStatus.AWAITING_APPROVAL: CloseReason.APPROVAL_TIMEOUT,
}


def expire_orders(session: Session, now: datetime, limit: int = EXPIRY_BATCH) -> int:
    """Expire open orders past their time (unpaid, or not approved by the deadline) and give
    their stock back; how many expired. The reason is kept for the visitor to read.

    Safe to run on several instances at once: each order's status update succeeds for one, and
    an order approved meanwhile has left ``awaiting_approval`` (and got a new deadline).
    """
    expired = 0
    for order_id, status in repo.expired_orders(session, _TIMEOUTS, now, limit):
        if repo.transition(
            session,
            order_id,
            from_statuses={status},
            values={"status": OrderStatus.EXPIRED, "close_reason": _TIMEOUTS[status]},
            expired_by=now,
        ):
            order = session.get_one(Order, order_id)
            _release_stock(session, order)
            expired += 1
    return expired


# --- approval -----------------------------------------------------------------------------------


def get_merchant_order(session: Session, merchant_id: int, order_id: int) -> Order:
    order = repo.get_order(session, merchant_id, order_id)
    if order is None:
        raise NotFound("sales.order_not_found")
    return order


def list_merchant_orders(
    session: Session,
    merchant_id: int,
    *,
    statuses: Collection[OrderStatus] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[Order]:
    return repo.list_merchant_orders(
        session, merchant_id, statuses=statuses, limit=limit, offset=offset
    )


def approve_order(
    session: Session,
    merchant_id: int,
    order_id: int,
    *,
    staff_user_id: int,
    note: str,
    now: datetime,
    config: SalesSettings,
) -> Order:
    """Approve an order: a free one is issued at once, a paid one waits for payment. Past its
    approval deadline the order is no longer approvable (the sweep is about to expire it)."""
    order = get_merchant_order(session, merchant_id, order_id)
    if (
        order.status is OrderStatus.AWAITING_APPROVAL
        and order.expires_at is not None
        and order.expires_at <= now
    ):
        raise Conflict(
            "sales.approval_expired", detail={"expired_at": order.expires_at.isoformat()}
        )
    decision = {"decided_at": now, "decided_by_user_id": staff_user_id, "decision_note": note}
    if order.total_fen == 0:
        values = {"status": OrderStatus.PAID, "paid_at": now, **decision}
    else:
        values = {
            "status": OrderStatus.PENDING_PAYMENT,
            "expires_at": now + config.order_payment_ttl,
            **decision,
        }
    if not repo.transition(
        session, order.id, from_statuses={OrderStatus.AWAITING_APPROVAL}, values=values
    ):
        raise Conflict("sales.order_not_awaiting_approval")
    if order.status is OrderStatus.PAID:
        _issue_tickets(session, order, now)
    return order


def reject_order(
    session: Session,
    merchant_id: int,
    order_id: int,
    *,
    staff_user_id: int,
    note: str,
    now: datetime,
) -> Order:
    """Reject an order awaiting approval; its stock goes back on sale."""
    order = get_merchant_order(session, merchant_id, order_id)
    if order.status is not OrderStatus.AWAITING_APPROVAL or not _close(
        session,
        order,
        OrderStatus.REJECTED,
        expires_at=None,
        decided_at=now,
        decided_by_user_id=staff_user_id,
        decision_note=note,
        close_reason=CloseReason.REJECTED,
    ):
        raise Conflict("sales.order_not_awaiting_approval")
    return order


# --- payment ------------------------------------------------------------------------------------


def _payable_together(orders: Sequence[Order], now: datetime) -> tuple[int, str, int]:
    """(merchant id, currency, total) of orders that may share one payment."""
    for order in orders:
        if order.status is not OrderStatus.PENDING_PAYMENT or (
            order.expires_at is not None and order.expires_at <= now
        ):
            raise Conflict("sales.order_not_payable", order_id=order.id)
    if len({(order.merchant_id, order.currency) for order in orders}) != 1:
        raise Invalid("sales.orders_not_payable_together")
    return orders[0].merchant_id, orders[0].currency, sum(order.total_fen for order in orders)


def start_payment(
    session: Session,
    user_id: int,
    order_ids: Collection[int],
    provider: PaymentProvider,
    now: datetime,
) -> tuple[Payment, dict[str, Any]]:
    """One payment for several of the visitor's unpaid orders (same merchant and currency)."""
    wanted = set(order_ids)
    orders = [o for o in repo.get_orders_by_ids(session, wanted) if o.visitor_user_id == user_id]
    if not wanted or len(orders) != len(wanted):
        raise NotFound("sales.order_not_found")
    merchant_id, currency, total = _payable_together(orders, now)
    payment, checkout = payments.create_payment(
        session,
        merchant_id=merchant_id,
        provider=provider,
        amount_fen=total,
        currency=currency,
        payer_user_id=user_id,
        now=now,
    )
    repo.link_payment(session, payment.id, [order.id for order in orders])
    return payment, checkout


def pay_in_cash(
    session: Session,
    merchant_id: int,
    order_ids: Collection[int],
    *,
    staff_user_id: int,
    now: datetime,
) -> tuple[Payment, list[Order]]:
    """Staff took the money for these orders at the counter: record it and issue the tickets."""
    wanted = set(order_ids)
    orders = [o for o in repo.get_orders_by_ids(session, wanted) if o.merchant_id == merchant_id]
    if not wanted or len(orders) != len(wanted):
        raise NotFound("sales.order_not_found")
    _, currency, total = _payable_together(orders, now)
    payers = {order.visitor_user_id for order in orders}
    payment = payments.record_cash_payment(
        session,
        merchant_id=merchant_id,
        amount_fen=total,
        currency=currency,
        payer_user_id=payers.pop() if len(payers) == 1 else None,
        staff_user_id=staff_user_id,
        now=now,
    )
    repo.link_payment(session, payment.id, [order.id for order in orders])
    for order in orders:
        if not _mark_paid(session, order, payment, now):
            raise Conflict("sales.order_not_payable", order_id=order.id)
    return payment, orders


def _mark_paid(session: Session, order: Order, payment: Payment, now: datetime) -> bool:
    values = {"status": OrderStatus.PAID, "paid_at": now, "payment_id": payment.id}
    if not repo.transition(
        session, order.id, from_statuses={OrderStatus.PENDING_PAYMENT}, values=values
    ):
        return False
    _issue_tickets(session, order, now)
    return True


def _revive(session: Session, order: Order, payment: Payment, now: datetime) -> bool:
    """Pay an order that expired or was cancelled while its payment was under way, if its
    tickets can still be reserved."""
    counts = _held_counts(order.items)
    reserved: list[tuple[int, int]] = []
    for type_id in sorted(counts):
        if not catalog_repo.reserve_stock(session, type_id, counts[type_id]):
            for done_id, done_count in reserved:
                catalog_repo.release_stock(session, done_id, done_count)
            return False
        reserved.append((type_id, counts[type_id]))
    values = {
        "status": OrderStatus.PAID,
        "paid_at": now,
        "payment_id": payment.id,
        "close_reason": None,
    }
    closed = {OrderStatus.EXPIRED, OrderStatus.CANCELLED}
    if not repo.transition(session, order.id, from_statuses=closed, values=values):
        for done_id, done_count in reserved:
            catalog_repo.release_stock(session, done_id, done_count)
        return False
    _issue_tickets(session, order, now)
    return True


def settle_payment(
    session: Session, payment: Payment, providers: dict[str, PaymentProvider], now: datetime
) -> list[Order]:
    """A payment just succeeded: mark its orders paid and issue their tickets.

    An order that can no longer be paid (expired and sold out meanwhile, or paid by another
    payment) has its share of the money refunded through the provider.
    """
    paid: list[Order] = []
    for order in repo.orders_of_payment(session, payment.id):
        if _mark_paid(session, order, payment, now) or (
            order.status in {OrderStatus.EXPIRED, OrderStatus.CANCELLED}
            and _revive(session, order, payment, now)
        ):
            paid.append(order)
            continue
        log.warning(
            "paid order can no longer be fulfilled; refunding its share",
            extra={"order_id": order.id, "payment": payment.reference, "status": order.status},
        )
        payments.refund(session, providers, payment, order.total_fen)
    return paid


# --- refunds ------------------------------------------------------------------------------------


def refund_order(
    session: Session,
    merchant_id: int,
    order_id: int,
    *,
    item_ids: Collection[int] | None,
    reason: str,
    staff_user_id: int,
    providers: dict[str, PaymentProvider],
    now: datetime,
) -> Refund:
    """Refund a paid order, wholly or some of its tickets: money back through the payment's
    provider, the tickets revoked (and pushed to the gates by tickets/fleet). Stock comes back
    only for ticket types with ``restock_on_refund``.

    The order is row-locked first (:func:`repo.lock_order`), so two refunds, or a refund and a
    visitor's request or its approval, never work on the same items at once. A visitor's
    pending request for this order follows the revocation of the refunded tickets
    (:func:`on_tickets_revoked`): superseded by this refund if it gave back every ticket still
    refundable, else narrowed to the rest."""
    order = get_merchant_order(session, merchant_id, order_id)
    repo.lock_order(session, order)
    if order.status is not OrderStatus.PAID:
        raise Conflict("sales.order_not_refundable")
    active = {item.id: item for item in order.items if item.status is ItemStatus.ACTIVE}
    chosen_ids = sorted(active) if item_ids is None else sorted(set(item_ids))
    for item_id in chosen_ids:
        if item_id not in active:
            raise Invalid("sales.item_not_refundable", item_id=item_id)
    if not chosen_ids:
        raise Conflict("sales.order_not_refundable")
    items = [active[item_id] for item_id in chosen_ids]
    amount = sum(item.price_fen for item in items)
    provider_refund_id = None
    if order.payment_id is not None and amount > 0:
        payment = session.get_one(Payment, order.payment_id)
        provider_refund_id = payments.refund(session, providers, payment, amount)
    repo.set_items_refunded(session, chosen_ids, now)
    repo.add_refunded_amount(session, order.id, amount)
    if len(chosen_ids) == len(active):
        repo.transition(
            session,
            order.id,
            from_statuses={OrderStatus.PAID},
            values={"status": OrderStatus.REFUNDED},
        )
    for type_id, count in sorted(_held_counts(items).items()):
        if session.get_one(TicketType, type_id).restock_on_refund:
            catalog_repo.release_stock(session, type_id, count)
    refund = Refund(
        merchant_id=merchant_id,
        order_id=order.id,
        payment_id=order.payment_id,
        amount_fen=amount,
        item_ids=chosen_ids,
        reason=reason,
        provider_refund_id=provider_refund_id,
        created_by_user_id=staff_user_id,
        created_at=now,
    )
    repo.add(session, refund)
    _revoke_tickets(session, RefundedPart(order.id, merchant_id, order.visitor_user_id, items), now)
    for item in items:
        session.refresh(item)
    session.refresh(order)
    return refund


def _revoke_tickets(session: Session, part: RefundedPart, now: datetime) -> None:
    tickets.revoke_for_order(session, part, "refunded", now=now)


# --- pending requests follow their tickets ------------------------------------------------------


@dataclass(frozen=True)
class RequestedTicket:
    """One ticket a refund request names, as it stands now: refundable, or why not."""

    item_id: int
    ticket_id: int | None
    price_fen: int
    blocked_by: RefundBlock | None

    @property
    def refundable(self) -> bool:
        return self.blocked_by is None


def refund_block(item: repo.RequestedItem | None) -> RefundBlock | None:
    """Why this requested item can no longer be refunded, or None if it still can: the item
    active, its ticket valid and never admitted (``entries_used = 0``: a multi-entry ticket
    admitted once is used). The one rule behind every narrowing of a pending request, the
    approval's and the manager's view of the queue."""
    if item is None or (item.item_status is ItemStatus.ACTIVE and item.ticket_id is None):
        return RefundBlock.NOT_ISSUED
    if item.item_status is not ItemStatus.ACTIVE:
        return RefundBlock.REFUNDED
    if item.ticket_status is not TicketStatus.VALID:
        return RefundBlock.REVOKED
    if item.entries_used:
        return RefundBlock.USED
    return None


def requested_tickets(session: Session, item_ids: Sequence[int]) -> list[RequestedTicket]:
    """These requested items' tickets as stored now, in the order given (one query)."""
    found = repo.requested_items(session, item_ids)
    return [_requested_ticket(item_id, found.get(item_id)) for item_id in item_ids]


def _requested_ticket(item_id: int, item: repo.RequestedItem | None) -> RequestedTicket:
    return RequestedTicket(
        item_id=item_id,
        ticket_id=None if item is None else item.ticket_id,
        price_fen=0 if item is None else item.price_fen,
        blocked_by=refund_block(item),
    )


def tickets_of_requests(
    session: Session, requests: Sequence[RefundRequest]
) -> dict[int, list[RequestedTicket]]:
    """For each request (by id), its tickets as they stand now: one query for a whole page."""
    found = repo.requested_items(
        session, {item_id for request in requests for item_id in request.item_ids}
    )
    return {
        request.id: [_requested_ticket(item_id, found.get(item_id)) for item_id in request.item_ids]
        for request in requests
    }


@dataclass(frozen=True)
class Followed:
    """What :func:`follow_refund_request` did to a pending request: ``request`` as stored after
    it (still pending, maybe narrowed, or closed), and the tickets it dropped, with why."""

    request: RefundRequest
    dropped: list[RequestedTicket]

    @property
    def closed(self) -> bool:
        return self.request.status is not RefundRequestStatus.PENDING


def follow_refund_request(session: Session, request_id: int, now: datetime) -> Followed | None:
    """Close or narrow a pending request to what can still be refunded of it
    (:func:`refund_block`); None if it is no longer pending. None left: ``superseded`` when a
    refund gave back some of its tickets (``refund_id``, ``decided_by_user_id`` from that
    refund), else ``voided`` (revoked without a refund, or used). Some left: narrowed to those,
    for the manager to approve or reject. Nothing dropped: left as it is.

    Row-locks the request (and nothing else): callers that lock tickets lock them first (a
    revocation, :func:`on_tickets_revoked`; an approval, :func:`approve_refund_request`); the
    sweep (:func:`follow_refund_requests`) locks no ticket. Used by all three, so a request
    follows its tickets the same way whichever of them notices first."""
    request = repo.lock_pending_refund_request(session, request_id)
    if request is None:
        return None
    tickets = requested_tickets(session, request.item_ids)
    left = [ticket for ticket in tickets if ticket.refundable]
    dropped = [ticket for ticket in tickets if not ticket.refundable]
    if not dropped:
        return Followed(request, [])
    if left:
        repo.narrow_refund_request(
            session,
            request.id,
            [ticket.item_id for ticket in left],
            sum(ticket.price_fen for ticket in left),
        )
        return Followed(request, dropped)
    refund = repo.latest_refund_of_items(session, request.order_id, request.item_ids)
    if refund is None:
        repo.decide_refund_request(
            session, request.id, RefundRequestStatus.VOIDED, {"decided_at": now}
        )
        return Followed(request, dropped)
    closed = {
        "decided_at": now,
        "decided_by_user_id": refund.created_by_user_id,
        "refund_id": refund.id,
    }
    repo.decide_refund_request(session, request.id, RefundRequestStatus.SUPERSEDED, closed)
    return Followed(request, dropped)


def on_tickets_revoked(session: Session, revoked: Sequence[Any]) -> None:
    """Receiver of :data:`server.signals.tickets_revoked`, in the revoking transaction: a
    pending refund request that names a revoked ticket follows what became of its tickets
    (:func:`follow_refund_request`), whoever revoked them (a refund, a manager's revocation
    without a refund, anything else).

    Lock order: the revoking transaction already holds the tickets' rows (and, when the fleet's
    receivers ran first, its sites' lists); this takes only the request's row, never the
    order's. Everything else that locks a request and tickets takes the tickets first (an
    approval, :func:`approve_refund_request`) or the request alone (withdraw, reject, the
    sweep), so they cannot wait for each other in a circle."""
    by_order: dict[int, set[int]] = {}
    moments: list[datetime] = []
    for ticket in revoked:
        # The signal carries tickets as objects; only those of an order can be asked back.
        order_id = getattr(ticket, "order_id", None)
        item_id = getattr(ticket, "order_item_id", None)
        if order_id is None or item_id is None:
            continue
        by_order.setdefault(order_id, set()).add(item_id)
        if getattr(ticket, "revoked_at", None) is not None:
            moments.append(ticket.revoked_at)
    now = max(moments) if moments else utc_now()
    for order_id, item_ids in sorted(by_order.items()):
        pending = repo.pending_request_items(session, order_id)
        if pending is not None and not item_ids.isdisjoint(pending[1]):
            follow_refund_request(session, pending[0], now)


@dataclass(frozen=True)
class SweepPage:
    """One page of the pending queue: the requests in it that name a ticket no longer
    refundable, and the id to continue after (None: that was the last page)."""

    to_follow: list[int]
    next_after: int | None


def refund_requests_to_follow(session: Session, *, after_id: int, limit: int) -> SweepPage:
    """Read a page of pending requests (ids above ``after_id``, ascending, at most ``limit``)
    and pick those naming a ticket that can no longer be refunded: the ones a check-in used
    (nothing tells sales about a check-in) and any other a revocation left behind. Two queries
    per page; writes nothing, so it can run in a read transaction."""
    page = repo.pending_refund_requests_page(session, after_id=after_id, limit=limit)
    found = repo.requested_items(session, {item_id for _, item_ids in page for item_id in item_ids})
    to_follow = [
        request_id
        for request_id, item_ids in page
        if any(refund_block(found.get(item_id)) is not None for item_id in item_ids)
    ]
    next_after = page[-1][0] if len(page) == limit else None
    return SweepPage(to_follow, next_after)


@dataclass(frozen=True)
class SweepCounts:
    closed: int = 0
    narrowed: int = 0


def follow_refund_requests(
    session: Session, request_ids: Sequence[int], now: datetime
) -> SweepCounts:
    """Follow these requests' tickets (:func:`follow_refund_request`, each under its row lock
    and read afresh, so a request decided or narrowed meanwhile is taken as it is now); how
    many were closed and narrowed."""
    closed = narrowed = 0
    for request_id in sorted(request_ids):
        followed = follow_refund_request(session, request_id, now)
        if followed is None or not followed.dropped:
            continue
        if followed.closed:
            closed += 1
        else:
            narrowed += 1
    return SweepCounts(closed, narrowed)


def connect_receivers() -> None:
    """Connect :func:`on_tickets_revoked` to the ticket signal (idempotent)."""
    signals.tickets_revoked.connect(on_tickets_revoked)


# --- visitors' refund requests ------------------------------------------------------------------


def refund_request_deadline(
    ticket: Ticket, event_starts_at: datetime, cutoff: timedelta
) -> datetime:
    """Until when a visitor may ask for this ticket's refund: ``cutoff`` before its admission
    starts (its validity start, e.g. a visit date's morning; else its event's start)."""
    admission_starts = ticket.valid_from or event_starts_at
    return admission_starts - cutoff


def _refusal(
    item: OrderItem, ticket: Ticket | None, now: datetime, cutoff: timedelta
) -> AdmitError | None:
    """Why this active item cannot be asked back now, or None if it can."""
    if ticket is None or ticket.status is not TicketStatus.VALID:
        return Invalid("sales.item_not_refundable", item_id=item.id)
    if ticket.entries_used > 0:
        return Conflict("sales.ticket_used", item_id=item.id)
    deadline = refund_request_deadline(ticket, item.ticket_type.event.starts_at, cutoff)
    if now >= deadline:
        return Conflict(
            "sales.refund_window_closed",
            item_id=item.id,
            detail={"item_id": item.id, "deadline": deadline.isoformat()},
        )
    return None


def _tickets_by_item(session: Session, order: Order) -> dict[int, Ticket]:
    issued = tickets.find_tickets(session, order.merchant_id, order_id=order.id, limit=1000)
    return {ticket.order_item_id: ticket for ticket in issued}


def request_refund(
    session: Session,
    user_id: int,
    order_id: int,
    *,
    item_ids: Collection[int] | None,
    reason: str,
    now: datetime,
    config: SalesSettings,
) -> RefundRequest:
    """A visitor asks for unused tickets of their paid order back, before each ticket's
    :func:`refund_request_deadline`. Omitted ``item_ids``: every ticket that may still be asked
    back. One pending request per order; a manager decides it."""
    order = get_visitor_order(session, user_id, order_id)
    repo.lock_order(session, order)  # a refund of this order lands wholly before or after
    if order.status is not OrderStatus.PAID:
        raise Conflict("sales.order_not_refundable")
    if repo.pending_refund_request(session, order.id) is not None:
        raise Conflict("sales.refund_already_requested")
    active = {item.id: item for item in order.items if item.status is ItemStatus.ACTIVE}
    issued = _tickets_by_item(session, order)
    cutoff = config.refund_request_cutoff
    if item_ids is None:
        chosen = [
            item
            for item in active.values()
            if _refusal(item, issued.get(item.id), now, cutoff) is None
        ]
        if not chosen:
            raise Conflict("sales.nothing_refundable")
    else:
        chosen = []
        for item_id in sorted(set(item_ids)):
            if item_id not in active:
                raise Invalid("sales.item_not_refundable", item_id=item_id)
            refusal = _refusal(active[item_id], issued.get(item_id), now, cutoff)
            if refusal is not None:
                raise refusal
            chosen.append(active[item_id])
        if not chosen:
            raise Invalid("sales.nothing_refundable")
    request = RefundRequest(
        merchant_id=order.merchant_id,
        order_id=order.id,
        visitor_user_id=user_id,
        item_ids=sorted(item.id for item in chosen),
        amount_fen=sum(item.price_fen for item in chosen),
        reason=reason,
        status=RefundRequestStatus.PENDING,
        pending_order_id=order.id,
        created_at=now,
        decision_note="",
    )
    if not repo.add_refund_request_once(session, request):
        raise Conflict("sales.refund_already_requested")
    return request


def get_visitor_refund_request(session: Session, user_id: int, request_id: int) -> RefundRequest:
    request = repo.get_visitor_refund_request(session, user_id, request_id)
    if request is None:
        raise NotFound("sales.refund_request_not_found")
    return request


def list_visitor_refund_requests(session: Session, user_id: int) -> Sequence[RefundRequest]:
    return repo.list_visitor_refund_requests(session, user_id)


def withdraw_refund_request(
    session: Session, user_id: int, request_id: int, now: datetime
) -> RefundRequest:
    """The visitor no longer wants the refund (only while it is pending)."""
    request = get_visitor_refund_request(session, user_id, request_id)
    if not repo.decide_refund_request(
        session, request.id, RefundRequestStatus.WITHDRAWN, {"decided_at": now}
    ):
        raise Conflict("sales.refund_request_not_pending")
    return request


# --- merchants' decisions on refund requests ----------------------------------------------------


def get_refund_request(session: Session, merchant_id: int, request_id: int) -> RefundRequest:
    request = repo.get_refund_request(session, merchant_id, request_id)
    if request is None:
        raise NotFound("sales.refund_request_not_found")
    return request


def list_refund_requests(
    session: Session,
    merchant_id: int,
    *,
    statuses: Collection[RefundRequestStatus],
    limit: int = 50,
    offset: int = 0,
) -> Sequence[RefundRequest]:
    return repo.list_refund_requests(
        session, merchant_id, statuses=statuses, limit=limit, offset=offset
    )


def _lock_requested_tickets(
    session: Session, order: Order, item_ids: Collection[int]
) -> dict[int, Ticket]:
    """Row-lock the requested items' tickets, in item order, and read them as locked."""
    issued = _tickets_by_item(session, order)
    locked: dict[int, Ticket] = {}
    for item_id in sorted(item_ids):
        ticket = issued.get(item_id)
        if ticket is not None:
            ticket = tickets_repo.lock_ticket(session, order.merchant_id, ticket.id)
        if ticket is not None:
            tickets_repo.reload_ticket(session, ticket)  # the row as locked, not as first read
            locked[item_id] = ticket
    return locked


def _check_unused(locked: dict[int, Ticket], item_ids: Collection[int]) -> None:
    """The locked tickets of these items are still valid and unused, so a check-in racing the
    approval either landed first (the approval dropped the ticket) or finds the ticket revoked
    (its conditional entry claim fails). After :func:`follow_refund_request` under the same
    locks this always holds; kept as the last word before money moves."""
    for item_id in sorted(item_ids):
        ticket = locked.get(item_id)
        if ticket is None or ticket.status is not TicketStatus.VALID:
            raise Invalid("sales.item_not_refundable", item_id=item_id)
        if ticket.entries_used > 0:
            raise Conflict("sales.ticket_used", item_id=item_id)


@dataclass(frozen=True)
class RefundApproval:
    """An approved request (its ``item_ids`` are what was refunded) and the tickets it named
    that the approval dropped because they could no longer be refunded, with why."""

    request: RefundRequest
    dropped: list[RequestedTicket]


class NothingLeftToRefund(Conflict):
    """409 ``sales.nothing_left_to_refund``: none of the request's tickets could still be
    refunded when a manager approved it; the request is closed (``voided``, or ``superseded``
    when a refund gave some back) and that is committed before this is raised. ``detail``:
    the request's id and new status, and each dropped ticket with why."""

    def __init__(self, followed: Followed) -> None:
        super().__init__(
            "sales.nothing_left_to_refund",
            detail={
                "request_id": followed.request.id,
                "status": followed.request.status.value,
                "dropped": [
                    {"item_id": ticket.item_id, "reason": str(ticket.blocked_by)}
                    for ticket in followed.dropped
                ],
            },
        )


def approve_refund_request(
    session: Session,
    merchant_id: int,
    request_id: int,
    *,
    staff_user_id: int,
    note: str,
    providers: dict[str, PaymentProvider],
    now: datetime,
) -> RefundApproval:
    """Grant a pending request for what can still be refunded of it: under the locks below it
    first follows its tickets (:func:`follow_refund_request`), so tickets used (or otherwise
    gone) since the visitor asked are dropped and the request narrowed to the rest, then the
    refund of the rest goes through :func:`refund_order` (money back through the payment's
    provider, tickets revoked and the revocation pushed to the gates, stock back where the type
    restocks). Nothing left: the request is closed (``voided``, or ``superseded``), **the
    session's transaction is committed** so that it stays closed, and
    :class:`NothingLeftToRefund` is raised. Any other refusal rolls the whole decision back.

    The order is locked before the request is decided, as :func:`refund_order` locks it, so a
    direct refund of the same order lands wholly before this decision (the request is then
    superseded, 409 ``sales.refund_request_not_pending``, or narrowed, and this decision sees
    it) or wholly after it (and finds those tickets refunded). The request's tickets are locked
    before the request itself, the order in which a revocation reaches the request
    (:func:`on_tickets_revoked`): a revocation racing the approval lands wholly before it (the
    request is voided or narrowed, and this decision sees it) or after it. A check-in racing it
    either used its ticket first (dropped here) or finds the ticket revoked."""
    request = get_refund_request(session, merchant_id, request_id)
    order = get_merchant_order(session, merchant_id, request.order_id)
    repo.lock_order(session, order)
    session.refresh(request)  # as stored now: a revocation may have narrowed or closed it
    if request.status is not RefundRequestStatus.PENDING:
        raise Conflict("sales.refund_request_not_pending")
    locked = _lock_requested_tickets(session, order, request.item_ids)
    # The request's row after its tickets' rows; it comes back as stored now (a revocation or
    # the sweep may have narrowed or closed it meanwhile: its items are among those locked).
    followed = follow_refund_request(session, request.id, now)
    if followed is None:
        raise Conflict("sales.refund_request_not_pending")
    if followed.closed:
        session.commit()
        raise NothingLeftToRefund(followed)
    decision = {"decided_at": now, "decided_by_user_id": staff_user_id, "decision_note": note}
    if not repo.decide_refund_request(session, request.id, RefundRequestStatus.APPROVED, decision):
        raise Conflict("sales.refund_request_not_pending")
    if order.status is not OrderStatus.PAID:
        raise Conflict("sales.order_not_refundable")
    _check_unused(locked, request.item_ids)
    refund = refund_order(
        session,
        merchant_id,
        order.id,
        item_ids=request.item_ids,
        reason=request.reason,
        staff_user_id=staff_user_id,
        providers=providers,
        now=now,
    )
    repo.set_refund_of_request(session, request.id, refund.id)
    session.refresh(request)
    return RefundApproval(request, followed.dropped)


def reject_refund_request(
    session: Session,
    merchant_id: int,
    request_id: int,
    *,
    staff_user_id: int,
    note: str,
    now: datetime,
) -> RefundRequest:
    """Refuse a pending request; the tickets stay valid."""
    request = get_refund_request(session, merchant_id, request_id)
    decision = {"decided_at": now, "decided_by_user_id": staff_user_id, "decision_note": note}
    if not repo.decide_refund_request(session, request.id, RefundRequestStatus.REJECTED, decision):
        raise Conflict("sales.refund_request_not_pending")
    return request
