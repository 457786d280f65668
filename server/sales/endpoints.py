"""HTTP API of sales: the visitor's cart, orders and refund requests, and the merchant's orders,
approval queue, refunds and decisions on refund requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from server.accounts.dependencies import MerchantManager, MerchantMember, Visitor
from server.clock import Now
from server.db import DbSession
from server.deps import Language
from server.i18n import translate
from server.payments.dependencies import Providers
from server.payments.service import provider_named
from server.sales import service
from server.sales.models import CartItem, Order, OrderStatus, RefundRequest, RefundRequestStatus
from server.sales.schemas import (
    BuyNow,
    CartItemOut,
    Decision,
    MerchantRefundRequestOut,
    OrderItemOut,
    OrderOut,
    PaymentStarted,
    PayOrders,
    RefundIn,
    RefundOut,
    RefundRequestApproved,
    RefundRequestIn,
    RefundRequestOut,
    RequestedTicketOut,
    TicketIn,
)
from server.sales.settings import SalesSettings, get_sales_settings

visitor_router = APIRouter(prefix="/api/sales", tags=["sales"])
merchant_router = APIRouter(prefix="/api/merchant", tags=["sales"])

SalesConfig = Annotated[SalesSettings, Depends(get_sales_settings)]


def _request(ticket: TicketIn) -> service.TicketRequest:
    return service.TicketRequest(**ticket.model_dump())


def _cart_item_out(item: CartItem) -> CartItemOut:
    return CartItemOut(
        id=item.id,
        ticket_type_id=item.ticket_type_id,
        ticket_type_name=item.ticket_type.name,
        price_fen=item.ticket_type.price_fen,
        currency=item.ticket_type.currency,
        holder_name=item.holder_name,
        holder_phone=item.holder_phone,
        holder_fields=item.holder_fields,
        visit_date=item.visit_date,
    )


def order_out(order: Order, language: str | None = None) -> OrderOut:
    """An order as the API shows it; ``close_reason`` also in ``language``."""
    reason = order.close_reason
    return OrderOut(
        id=order.id,
        merchant_id=order.merchant_id,
        visitor_user_id=order.visitor_user_id,
        status=order.status,
        total_fen=order.total_fen,
        refunded_fen=order.refunded_fen,
        currency=order.currency,
        created_at=order.created_at,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        decided_at=order.decided_at,
        decision_note=order.decision_note,
        close_reason=reason,
        close_message=None
        if reason is None
        else translate(f"sales.close_reason.{reason.value}", language),
        items=[
            OrderItemOut(
                id=item.id,
                ticket_type_id=item.ticket_type_id,
                ticket_type_name=item.ticket_type.name,
                event_id=item.ticket_type.event_id,
                price_fen=item.price_fen,
                holder_name=item.holder_name,
                holder_phone=item.holder_phone,
                holder_fields=item.holder_fields,
                visit_date=item.visit_date,
                status=item.status,
            )
            for item in order.items
        ],
    )


def refund_request_out(request: RefundRequest, language: str | None = None) -> RefundRequestOut:
    return RefundRequestOut(
        id=request.id,
        order_id=request.order_id,
        merchant_id=request.merchant_id,
        status=request.status,
        status_message=translate(f"sales.refund_request_status.{request.status.value}", language),
        item_ids=request.item_ids,
        amount_fen=request.amount_fen,
        currency=request.order.currency,
        reason=request.reason,
        created_at=request.created_at,
        decided_at=request.decided_at,
        decision_note=request.decision_note,
        refund_id=request.refund_id,
    )


def requested_ticket_out(
    ticket: service.RequestedTicket, language: str | None = None
) -> RequestedTicketOut:
    reason = ticket.blocked_by
    return RequestedTicketOut(
        item_id=ticket.item_id,
        ticket_id=ticket.ticket_id,
        refundable=reason is None,
        reason=reason,
        reason_message=None
        if reason is None
        else translate(f"sales.refund_block.{reason.value}", language),
    )


def merchant_refund_requests_out(
    session: Session, requests: Sequence[RefundRequest], language: str | None = None
) -> list[MerchantRefundRequestOut]:
    """Requests as a merchant sees them, each ticket as it stands now (one query for all)."""
    tickets = service.tickets_of_requests(session, requests)
    return [
        MerchantRefundRequestOut(
            **refund_request_out(request, language).model_dump(),
            tickets=[requested_ticket_out(ticket, language) for ticket in tickets[request.id]],
        )
        for request in requests
    ]


# --- visitor: cart ------------------------------------------------------------------------------


@visitor_router.get("/cart")
def read_cart(who: Visitor, session: DbSession) -> list[CartItemOut]:
    return [_cart_item_out(item) for item in service.list_cart(session, who.user_id)]


@visitor_router.post("/cart/items", status_code=status.HTTP_201_CREATED)
def add_to_cart(body: TicketIn, who: Visitor, session: DbSession, now: Now) -> CartItemOut:
    """Add ONE ticket with its holder (one ticket, one code)."""
    return _cart_item_out(service.add_to_cart(session, who.user_id, _request(body), now))


@visitor_router.delete("/cart/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_from_cart(item_id: int, who: Visitor, session: DbSession) -> Response:
    service.remove_from_cart(session, who.user_id, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@visitor_router.post("/cart/checkout", status_code=status.HTTP_201_CREATED)
def checkout(
    who: Visitor, session: DbSession, now: Now, config: SalesConfig, language: Language
) -> list[OrderOut]:
    """Orders for everything in the cart (one per event), stock reserved."""
    orders = service.checkout_cart(session, who.user_id, now, config)
    return [order_out(o, language) for o in orders]


@visitor_router.post("/buy-now", status_code=status.HTTP_201_CREATED)
def buy_now(
    body: BuyNow,
    who: Visitor,
    session: DbSession,
    now: Now,
    config: SalesConfig,
    language: Language,
) -> list[OrderOut]:
    """Order these tickets directly, past the cart."""
    requests = [_request(ticket) for ticket in body.tickets]
    orders = service.place_orders(session, who.user_id, requests, now, config)
    return [order_out(o, language) for o in orders]


# --- visitor: orders and payment ----------------------------------------------------------------


@visitor_router.get("/orders")
def list_my_orders(
    who: Visitor,
    session: DbSession,
    language: Language,
    order_status: Annotated[list[OrderStatus] | None, Query(alias="status")] = None,
) -> list[OrderOut]:
    orders = service.list_visitor_orders(session, who.user_id, order_status)
    return [order_out(o, language) for o in orders]


@visitor_router.get("/orders/unpaid")
def list_unpaid(who: Visitor, session: DbSession, now: Now, language: Language) -> list[OrderOut]:
    """Orders waiting for payment; pay several at once with ``POST /api/sales/payments``."""
    orders = service.list_unpaid_orders(session, who.user_id, now)
    return [order_out(o, language) for o in orders]


@visitor_router.get("/orders/{order_id}")
def read_my_order(order_id: int, who: Visitor, session: DbSession, language: Language) -> OrderOut:
    return order_out(service.get_visitor_order(session, who.user_id, order_id), language)


@visitor_router.post("/orders/{order_id}/cancel")
def cancel_my_order(
    order_id: int, who: Visitor, session: DbSession, now: Now, language: Language
) -> OrderOut:
    return order_out(service.cancel_order(session, who.user_id, order_id, now), language)


@visitor_router.post("/payments", status_code=status.HTTP_201_CREATED)
def pay_orders(
    body: PayOrders, who: Visitor, session: DbSession, now: Now, providers: Providers
) -> PaymentStarted:
    """Start one payment for several unpaid orders; the amount is the orders' server total."""
    provider = provider_named(providers, body.provider)
    payment, checkout = service.start_payment(session, who.user_id, body.order_ids, provider, now)
    return PaymentStarted(
        payment_id=payment.id,
        reference=payment.reference,
        provider=payment.provider,
        amount_fen=payment.amount_fen,
        currency=payment.currency,
        checkout=checkout,
    )


# --- visitor: refund requests -----------------------------------------------------------------


@visitor_router.post("/orders/{order_id}/refund-requests", status_code=status.HTTP_201_CREATED)
def request_refund(
    order_id: int,
    body: RefundRequestIn,
    who: Visitor,
    session: DbSession,
    now: Now,
    config: SalesConfig,
    language: Language,
) -> RefundRequestOut:
    """Ask for unused tickets of my paid order back, before each ticket's deadline; the
    merchant decides."""
    request = service.request_refund(
        session,
        who.user_id,
        order_id,
        item_ids=body.item_ids,
        reason=body.reason,
        now=now,
        config=config,
    )
    return refund_request_out(request, language)


@visitor_router.get("/refund-requests")
def list_my_refund_requests(
    who: Visitor, session: DbSession, language: Language
) -> list[RefundRequestOut]:
    requests = service.list_visitor_refund_requests(session, who.user_id)
    return [refund_request_out(request, language) for request in requests]


@visitor_router.get("/refund-requests/{request_id}")
def read_my_refund_request(
    request_id: int, who: Visitor, session: DbSession, language: Language
) -> RefundRequestOut:
    request = service.get_visitor_refund_request(session, who.user_id, request_id)
    return refund_request_out(request, language)


@visitor_router.post("/refund-requests/{request_id}/withdraw")
def withdraw_my_refund_request(
    request_id: int, who: Visitor, session: DbSession, now: Now, language: Language
) -> RefundRequestOut:
    request = service.withdraw_refund_request(session, who.user_id, request_id, now)
    return refund_request_out(request, language)


# --- merchant: orders, approval, refunds ---------------------------------------------------------


@merchant_router.get("/orders")
def list_orders(
    who: MerchantMember,
    session: DbSession,
    language: Language,
    order_status: Annotated[list[OrderStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderOut]:
    orders = service.list_merchant_orders(
        session, who.merchant_id, statuses=order_status, limit=limit, offset=offset
    )
    return [order_out(order, language) for order in orders]


@merchant_router.get("/approvals")
def approval_queue(
    who: MerchantManager,
    session: DbSession,
    language: Language,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderOut]:
    """Orders waiting for a manager's approval (``expires_at``: the approval deadline)."""
    orders = service.list_merchant_orders(
        session,
        who.merchant_id,
        statuses=[OrderStatus.AWAITING_APPROVAL],
        limit=limit,
        offset=offset,
    )
    return [order_out(order, language) for order in orders]


@merchant_router.get("/orders/{order_id}")
def read_order(
    order_id: int, who: MerchantMember, session: DbSession, language: Language
) -> OrderOut:
    return order_out(service.get_merchant_order(session, who.merchant_id, order_id), language)


@merchant_router.post("/orders/{order_id}/approve")
def approve(
    order_id: int,
    body: Decision,
    who: MerchantManager,
    session: DbSession,
    now: Now,
    config: SalesConfig,
    language: Language,
) -> OrderOut:
    order = service.approve_order(
        session,
        who.merchant_id,
        order_id,
        staff_user_id=who.user_id,
        note=body.note,
        now=now,
        config=config,
    )
    return order_out(order, language)


@merchant_router.post("/orders/{order_id}/reject")
def reject(
    order_id: int,
    body: Decision,
    who: MerchantManager,
    session: DbSession,
    now: Now,
    language: Language,
) -> OrderOut:
    order = service.reject_order(
        session, who.merchant_id, order_id, staff_user_id=who.user_id, note=body.note, now=now
    )
    return order_out(order, language)


@merchant_router.post("/orders/{order_id}/refund", status_code=status.HTTP_201_CREATED)
def refund(
    order_id: int,
    body: RefundIn,
    who: MerchantManager,
    session: DbSession,
    now: Now,
    providers: Providers,
) -> RefundOut:
    """Refund the whole order or some of its tickets; the tickets are revoked at once."""
    made = service.refund_order(
        session,
        who.merchant_id,
        order_id,
        item_ids=body.item_ids,
        reason=body.reason,
        staff_user_id=who.user_id,
        providers=providers,
        now=now,
    )
    return RefundOut.model_validate(made)


# --- merchant: refund requests ------------------------------------------------------------------


@merchant_router.get("/refund-requests")
def list_refund_requests(
    who: MerchantMember,
    session: DbSession,
    language: Language,
    request_status: Annotated[list[RefundRequestStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MerchantRefundRequestOut]:
    """Visitors' refund requests, oldest first; by default the pending ones (the queue). Each
    names its tickets as they stand now: whether approving would refund them, and why not."""
    requests = service.list_refund_requests(
        session,
        who.merchant_id,
        statuses=request_status or [RefundRequestStatus.PENDING],
        limit=limit,
        offset=offset,
    )
    return merchant_refund_requests_out(session, requests, language)


@merchant_router.get("/refund-requests/{request_id}")
def read_refund_request(
    request_id: int, who: MerchantMember, session: DbSession, language: Language
) -> MerchantRefundRequestOut:
    request = service.get_refund_request(session, who.merchant_id, request_id)
    return merchant_refund_requests_out(session, [request], language)[0]


@merchant_router.post("/refund-requests/{request_id}/approve")
def approve_refund_request(
    request_id: int,
    body: Decision,
    who: MerchantManager,
    session: DbSession,
    now: Now,
    providers: Providers,
    language: Language,
) -> RefundRequestApproved:
    """Grant the refund of what can still be refunded: money back, tickets revoked and pushed
    to the gates; tickets used meanwhile are dropped (``dropped``, with why). None left: 409
    ``sales.nothing_left_to_refund`` and the request is closed."""
    approval = service.approve_refund_request(
        session,
        who.merchant_id,
        request_id,
        staff_user_id=who.user_id,
        note=body.note,
        providers=providers,
        now=now,
    )
    shown = merchant_refund_requests_out(session, [approval.request], language)[0]
    return RefundRequestApproved(
        **shown.model_dump(),
        dropped=[requested_ticket_out(ticket, language) for ticket in approval.dropped],
    )


@merchant_router.post("/refund-requests/{request_id}/reject")
def reject_refund_request(
    request_id: int,
    body: Decision,
    who: MerchantManager,
    session: DbSession,
    now: Now,
    language: Language,
) -> MerchantRefundRequestOut:
    request = service.reject_refund_request(
        session, who.merchant_id, request_id, staff_user_id=who.user_id, note=body.note, now=now
    )
    return merchant_refund_requests_out(session, [request], language)[0]
