"""Tickets API: a visitor's own tickets (``/api/tickets``) and a merchant's
(``/api/merchant/tickets``).

A visitor sees only tickets bought with their account; staff only their merchant's. Anything
else is the same 404 as a ticket that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from server.accounts.dependencies import MerchantManager, MerchantMember, Visitor
from server.clock import Now
from server.db import DbSession, WriteSession
from server.tickets import qr, service
from server.tickets.models import Ticket, TicketStatus
from server.tickets.schemas import (
    MyTicketsOut,
    OrderCodesOut,
    RetiredKeyOut,
    RevokedOut,
    RevokeIn,
    SigningKeyOut,
    TicketCodeOut,
    TicketOut,
)

visitor_router = APIRouter(prefix="/api/tickets", tags=["tickets"])
merchant_router = APIRouter(prefix="/api/merchant/tickets", tags=["tickets (staff)"])

Scale = Annotated[int, Query(ge=qr.MIN_SCALE, le=qr.MAX_SCALE)]
Border = Annotated[int, Query(ge=qr.MIN_BORDER, le=qr.MAX_BORDER)]
QR_CACHE_CONTROL = "private, max-age=300"


def _qr_response(ticket: Ticket, image_format: qr.ImageFormat, scale: int, border: int) -> Response:
    image = qr.render_qr(ticket.credential, image_format, scale=scale, border=border)
    return Response(
        image,
        media_type=qr.MEDIA_TYPES[image_format],
        headers={"Cache-Control": QR_CACHE_CONTROL},
    )


# --- visitor -----------------------------------------------------------------------------------


@visitor_router.get("")
def my_tickets(who: Visitor, session: DbSession, now: Now) -> MyTicketsOut:
    split = service.visitor_tickets(session, who.user_id, now)
    return MyTicketsOut(
        pending=[TicketOut.of(t, now) for t in split.pending],
        used=[TicketOut.of(t, now) for t in split.used],
        void=[TicketOut.of(t, now) for t in split.void],
    )


@visitor_router.get("/{ticket_id}")
def my_ticket(ticket_id: int, who: Visitor, session: DbSession, now: Now) -> TicketOut:
    return TicketOut.of(service.visitor_ticket(session, who.user_id, ticket_id), now)


@visitor_router.get(
    "/{ticket_id}/qr.{image_format}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def my_ticket_qr(
    ticket_id: int,
    image_format: qr.ImageFormat,
    who: Visitor,
    session: DbSession,
    scale: Scale = qr.DEFAULT_SCALE,
    border: Border = qr.DEFAULT_BORDER,
) -> Response:
    ticket = service.visitor_ticket(session, who.user_id, ticket_id)
    return _qr_response(ticket, image_format, scale, border)


@visitor_router.get("/orders/{order_id}/codes")
def my_order_codes(order_id: int, who: Visitor, session: DbSession, now: Now) -> OrderCodesOut:
    tickets = service.visitor_order_tickets(session, who.user_id, order_id)
    return OrderCodesOut(order_id=order_id, tickets=[TicketCodeOut.of(t, now) for t in tickets])


# --- merchant staff ----------------------------------------------------------------------------


@merchant_router.get("")
def list_tickets(
    who: MerchantMember,
    session: DbSession,
    now: Now,
    event_id: int | None = None,
    order_id: int | None = None,
    phone: str | None = None,
    status: TicketStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TicketOut]:
    tickets = service.find_tickets(
        session,
        who.merchant_id,
        event_id=event_id,
        order_id=order_id,
        phone_text=phone,
        status=status,
        limit=limit,
        offset=offset,
    )
    return [TicketOut.of(t, now) for t in tickets]


# Literal paths before /{ticket_id}, which would otherwise swallow them.
@merchant_router.get("/signing-keys")
def list_signing_keys(who: MerchantManager, session: WriteSession, now: Now) -> list[SigningKeyOut]:
    return [SigningKeyOut.of(k) for k in service.signing_keys(session, who.merchant_id, now)]


@merchant_router.post("/signing-keys/rotate", status_code=201)
def rotate_signing_key(who: MerchantManager, session: DbSession, now: Now) -> SigningKeyOut:
    return SigningKeyOut.of(service.rotate_key(session, who.merchant_id, now))


@merchant_router.post("/signing-keys/{key_id}/retire")
def retire_signing_key(
    key_id: int, who: MerchantManager, session: DbSession, now: Now
) -> RetiredKeyOut:
    resigned = service.retire_key(session, who.merchant_id, key_id, now)
    return RetiredKeyOut(key_id=key_id, resigned_tickets=resigned)


@merchant_router.get("/{ticket_id}")
def get_ticket(ticket_id: int, who: MerchantMember, session: DbSession, now: Now) -> TicketOut:
    return TicketOut.of(service.staff_ticket(session, who.merchant_id, ticket_id), now)


@merchant_router.get(
    "/{ticket_id}/qr.{image_format}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def ticket_qr(
    ticket_id: int,
    image_format: qr.ImageFormat,
    who: MerchantMember,
    session: DbSession,
    scale: Scale = qr.DEFAULT_SCALE,
    border: Border = qr.DEFAULT_BORDER,
) -> Response:
    ticket = service.staff_ticket(session, who.merchant_id, ticket_id)
    return _qr_response(ticket, image_format, scale, border)


@merchant_router.get("/orders/{order_id}/codes")
def order_codes(order_id: int, who: MerchantMember, session: DbSession, now: Now) -> OrderCodesOut:
    tickets = service.staff_order_tickets(session, who.merchant_id, order_id)
    return OrderCodesOut(order_id=order_id, tickets=[TicketCodeOut.of(t, now) for t in tickets])


@merchant_router.post("/revoke")
def revoke_tickets(
    body: RevokeIn, who: MerchantManager, session: DbSession, now: Now
) -> RevokedOut:
    revoked = service.revoke_tickets(session, who.merchant_id, body.ticket_ids, body.reason, now)
    return RevokedOut(revoked=[t.id for t in revoked])
