"""Request and response bodies of the tickets API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from protocol.codes import format_code
from server.tickets.models import SigningKeyState, Ticket, TicketSigningKey, TicketStatus
from server.tickets.service import TicketState, entries_remaining, ticket_state


class TicketOut(BaseModel):
    id: int
    event_id: int
    ticket_type_id: int
    order_id: int
    order_item_id: int
    holder_name: str
    holder_phone: str | None
    holder_fields: dict[str, Any]
    visit_date: date | None
    code: str
    #: The code as shown to people: "1234 5678 9012".
    code_display: str
    credential: str
    status: TicketStatus
    state: TicketState
    entries_allowed: int
    entries_used: int
    #: None for unlimited tickets.
    entries_remaining: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    issued_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket, now: datetime) -> TicketOut:
        return cls(
            id=ticket.id,
            event_id=ticket.event_id,
            ticket_type_id=ticket.ticket_type_id,
            order_id=ticket.order_id,
            order_item_id=ticket.order_item_id,
            holder_name=ticket.holder_name,
            holder_phone=ticket.holder_phone,
            holder_fields=dict(ticket.holder_fields or {}),
            visit_date=ticket.visit_date,
            code=ticket.code,
            code_display=format_code(ticket.code),
            credential=ticket.credential,
            status=ticket.status,
            state=ticket_state(ticket, now),
            entries_allowed=ticket.entries_allowed,
            entries_used=ticket.entries_used,
            entries_remaining=entries_remaining(ticket),
            valid_from=ticket.valid_from,
            valid_until=ticket.valid_until,
            issued_at=ticket.issued_at,
            revoked_at=ticket.revoked_at,
        )


class MyTicketsOut(BaseModel):
    """A visitor's tickets: ``pending`` can still be used, ``used`` were used up,
    ``void`` were revoked or expired without being used."""

    pending: list[TicketOut]
    used: list[TicketOut]
    void: list[TicketOut]


class TicketCodeOut(BaseModel):
    ticket_id: int
    holder_name: str
    code: str
    code_display: str
    credential: str
    state: TicketState

    @classmethod
    def of(cls, ticket: Ticket, now: datetime) -> TicketCodeOut:
        return cls(
            ticket_id=ticket.id,
            holder_name=ticket.holder_name,
            code=ticket.code,
            code_display=format_code(ticket.code),
            credential=ticket.credential,
            state=ticket_state(ticket, now),
        )


class OrderCodesOut(BaseModel):
    """Every code of one order, for showing several tickets at once."""

    order_id: int
    tickets: list[TicketCodeOut]


class RevokeIn(BaseModel):
    ticket_ids: list[int] = Field(min_length=1, max_length=500)
    reason: str = Field(default="", max_length=200)


class RevokedOut(BaseModel):
    revoked: list[int]


class SigningKeyOut(BaseModel):
    key_id: int
    public_key: str
    state: SigningKeyState
    created_at: datetime
    retired_at: datetime | None

    @classmethod
    def of(cls, key: TicketSigningKey) -> SigningKeyOut:
        return cls(
            key_id=key.key_id,
            public_key=key.public_key,
            state=key.state,
            created_at=key.created_at,
            retired_at=key.retired_at,
        )


class RetiredKeyOut(BaseModel):
    key_id: int
    #: Valid tickets that were re-signed with the active key before the retirement.
    resigned_tickets: int
