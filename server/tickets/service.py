"""Ticket rules: issuance from a paid order, revocation on refund (seam 1), what a visitor or a
merchant's staff may see, and key rotation.

``issue_for_order`` and ``revoke_for_order`` run inside the caller's transaction and announce
their tickets through :data:`server.signals.tickets_issued` / ``tickets_revoked`` (seam 2), so
the fleet's list changes commit or roll back with the order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.allowlist import hash_code
from protocol.codes import random_code
from protocol.signing import SigningKey
from server.clock import utc_now
from server.errors import Conflict, NotFound
from server.phones import normalize_phone
from server.signals import tickets_issued, tickets_revoked
from server.tickets import keys
from server.tickets import messages as _messages  # noqa: F401  (registers the texts)
from server.tickets import repository as repo
from server.tickets.credentials import is_within_window, sign_claims, ticket_claims, validity_window
from server.tickets.models import Ticket, TicketSigningKey, TicketStatus
from server.tickets.repository import TicketSnapshot

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: Fresh codes drawn before giving up; a collision in a space of 10**11 is already rare.
CODE_ATTEMPTS = 20


class TicketTypeLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def event_id(self) -> int: ...
    @property
    def entries_allowed(self) -> int: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def valid_until(self) -> datetime | None: ...


class OrderItemLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def ticket_type(self) -> TicketTypeLike: ...
    @property
    def holder_name(self) -> str | None: ...
    @property
    def holder_phone(self) -> str | None: ...
    @property
    def holder_fields(self) -> Mapping[str, Any] | None: ...
    @property
    def visit_date(self) -> date | None: ...


class OrderLike(Protocol):
    """What tickets reads from a sales order (seam 1)."""

    @property
    def id(self) -> int: ...
    @property
    def merchant_id(self) -> int: ...
    @property
    def visitor_user_id(self) -> int | None: ...
    @property
    def items(self) -> Sequence[OrderItemLike]: ...


class TicketState(enum.StrEnum):
    """How a ticket looks to its holder: can still be used, was used, or can no longer be."""

    PENDING = "pending"
    USED = "used"
    VOID = "void"


# --- issuance and revocation (seam 1) ----------------------------------------------------------


def issue_for_order(
    session: Session,
    order: OrderLike,
    *,
    now: datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[Ticket]:
    """One ticket per order item, in the caller's transaction; idempotent per item.

    Returns every ticket of the order's items (already issued ones included); only the new
    ones are announced with ``tickets_issued``. ``timezone`` is the site's zone, used to turn
    a visit date into that day's validity window.
    """
    now = now or utc_now()
    items = list(order.items)
    existing = {
        t.order_item_id: t for t in repo.tickets_of_order_items(session, [i.id for i in items])
    }
    new_tickets: list[Ticket] = []
    if len(existing) < len(items):
        key_record = keys.ensure_active_key(session, order.merchant_id, now)
        salt = keys.code_salt_for_merchant(session, order.merchant_id, now)
        for item in items:
            if item.id in existing:
                continue
            ticket, created = _issue_one(session, order, item, key_record, salt, now, timezone)
            existing[item.id] = ticket
            if created:
                new_tickets.append(ticket)
    if new_tickets:
        tickets_issued.send(session, new_tickets)
    return [existing[item.id] for item in items]


def revoke_for_order(
    session: Session, order: OrderLike, reason: str, *, now: datetime | None = None
) -> list[Ticket]:
    """Revoke the tickets of ``order.items`` (pass an object with only the refunded items for a
    partial refund). Returns the tickets this call revoked; already revoked ones are skipped."""
    tickets = repo.tickets_of_order_items(session, [item.id for item in order.items])
    return _revoke(session, [t for t in tickets if t.merchant_id == order.merchant_id], reason, now)


def revoke_tickets(
    session: Session, merchant_id: int, ticket_ids: Sequence[int], reason: str, now: datetime
) -> list[Ticket]:
    """Revoke chosen tickets of a merchant (404 if any is not theirs)."""
    tickets = [staff_ticket(session, merchant_id, ticket_id) for ticket_id in ticket_ids]
    return _revoke(session, tickets, reason, now)


def _revoke(
    session: Session, tickets: Sequence[Ticket], reason: str, now: datetime | None
) -> list[Ticket]:
    moment = now or utc_now()
    revoked: list[Ticket] = []
    for ticket in tickets:
        if ticket.status is TicketStatus.REVOKED:
            continue
        ticket.status = TicketStatus.REVOKED
        ticket.revoked_at = moment
        ticket.revoke_reason = reason[:200]
        revoked.append(ticket)
    session.flush()
    if revoked:
        tickets_revoked.send(session, revoked)
    return revoked


def _issue_one(
    session: Session,
    order: OrderLike,
    item: OrderItemLike,
    key_record: TicketSigningKey,
    salt: str,
    now: datetime,
    timezone: str,
) -> tuple[Ticket, bool]:
    """The item's new ticket and True, or the ticket a concurrent issuance made and False."""
    ticket_type = item.ticket_type
    valid_from, valid_until = validity_window(
        ticket_type.valid_from, ticket_type.valid_until, item.visit_date, timezone
    )
    for _ in range(CODE_ATTEMPTS):
        code = random_code()
        if repo.code_exists(session, order.merchant_id, code):
            continue
        ticket = Ticket(
            merchant_id=order.merchant_id,
            event_id=ticket_type.event_id,
            ticket_type_id=ticket_type.id,
            order_id=order.id,
            order_item_id=item.id,
            visitor_user_id=order.visitor_user_id,
            holder_name=item.holder_name or "",
            holder_phone=item.holder_phone,
            holder_fields=dict(item.holder_fields or {}),
            visit_date=item.visit_date,
            code=code,
            code_hash=hash_code(code, salt),
            status=TicketStatus.VALID,
            entries_allowed=ticket_type.entries_allowed,
            entries_used=0,
            valid_from=valid_from,
            valid_until=valid_until,
            key_id=key_record.key_id,
            credential="",
            issued_at=now,
            revoked_at=None,
        )
        try:
            with session.begin_nested():
                repo.add_ticket(session, ticket)
        except IntegrityError:
            # Either another transaction took the code a moment ago (draw again) or issued this
            # very item (use its ticket).
            already = repo.tickets_of_order_items(session, [item.id])
            if already:
                return already[0], False
            continue
        ticket.credential = credential_for(ticket, keys.signing_key(key_record))
        session.flush()
        return ticket, True
    raise Conflict("tickets.code_space_busy")


def credential_for(ticket: Ticket, key: SigningKey) -> str:
    """The signed credential text of ``ticket`` with ``key``."""
    claims = ticket_claims(
        ticket_id=ticket.id,
        event_id=ticket.event_id,
        ticket_type_id=ticket.ticket_type_id,
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
        entries_allowed=ticket.entries_allowed,
        key_id=key.key_id,
    )
    return sign_claims(claims, key)


# --- what people may see -----------------------------------------------------------------------


def ticket_state(ticket: Ticket, now: datetime) -> TicketState:
    if ticket.status is TicketStatus.REVOKED:
        return TicketState.USED if ticket.entries_used else TicketState.VOID
    exhausted = ticket.entries_allowed != 0 and ticket.entries_used >= ticket.entries_allowed
    if exhausted:
        return TicketState.USED
    if ticket.valid_until is not None and now >= ticket.valid_until:
        return TicketState.USED if ticket.entries_used else TicketState.VOID
    return TicketState.PENDING


def entries_remaining(ticket: Ticket | TicketSnapshot) -> int | None:
    """Entries left; None for unlimited tickets."""
    if ticket.entries_allowed == 0:
        return None
    return max(0, ticket.entries_allowed - ticket.entries_used)


def is_usable(ticket: Ticket | TicketSnapshot, now: datetime) -> bool:
    """Valid, inside its window and with an entry left: what check-in lists as "unused"."""
    return (
        ticket.status is TicketStatus.VALID
        and is_within_window(ticket.valid_from, ticket.valid_until, now)
        and entries_remaining(ticket) != 0
    )


@dataclass(frozen=True)
class VisitorTickets:
    pending: list[Ticket]
    used: list[Ticket]
    void: list[Ticket]


def visitor_tickets(session: Session, user_id: int, now: datetime) -> VisitorTickets:
    """The visitor's tickets split by :func:`ticket_state`, newest first."""
    split: dict[TicketState, list[Ticket]] = {state: [] for state in TicketState}
    for ticket in repo.tickets_of_visitor(session, user_id):
        split[ticket_state(ticket, now)].append(ticket)
    return VisitorTickets(
        split[TicketState.PENDING], split[TicketState.USED], split[TicketState.VOID]
    )


def visitor_ticket(session: Session, user_id: int, ticket_id: int) -> Ticket:
    ticket = repo.get_ticket_for_visitor(session, user_id, ticket_id)
    if ticket is None:
        raise NotFound("tickets.ticket_not_found")
    return ticket


def visitor_order_tickets(session: Session, user_id: int, order_id: int) -> list[Ticket]:
    tickets = list(repo.tickets_of_visitor_order(session, user_id, order_id))
    if not tickets:
        raise NotFound("tickets.order_not_found")
    return tickets


def staff_ticket(session: Session, merchant_id: int, ticket_id: int) -> Ticket:
    ticket = repo.get_ticket(session, merchant_id, ticket_id)
    if ticket is None:
        raise NotFound("tickets.ticket_not_found")
    return ticket


def staff_order_tickets(session: Session, merchant_id: int, order_id: int) -> list[Ticket]:
    tickets = list(repo.tickets_of_order(session, merchant_id, order_id))
    if not tickets:
        raise NotFound("tickets.order_not_found")
    return tickets


def find_tickets(
    session: Session,
    merchant_id: int,
    *,
    event_id: int | None = None,
    order_id: int | None = None,
    phone_text: str | None = None,
    status: TicketStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Ticket]:
    """A merchant's tickets, filtered; ``phone_text`` is normalised to E.164 first."""
    phone = normalize_phone(phone_text) if phone_text else None
    return list(
        repo.find_tickets(
            session,
            merchant_id,
            event_id=event_id,
            order_id=order_id,
            holder_phone=phone,
            status=status,
            limit=limit,
            offset=offset,
        )
    )


# --- keys --------------------------------------------------------------------------------------


def signing_keys(session: Session, merchant_id: int, now: datetime) -> list[TicketSigningKey]:
    keys.ensure_active_key(session, merchant_id, now)
    return list(repo.signing_keys(session, merchant_id))


def rotate_key(session: Session, merchant_id: int, now: datetime) -> TicketSigningKey:
    """A new active key for new tickets; earlier keys stay trusted until retired."""
    keys.ensure_active_key(session, merchant_id, now)
    return keys.rotate_key(session, merchant_id, now)


def retire_key(session: Session, merchant_id: int, key_id: int, now: datetime) -> int:
    """Stop trusting a rotated-out key; its still-valid tickets are re-signed with the active
    key first (their QR codes change). Returns how many tickets were re-signed."""
    active = keys.ensure_active_key(session, merchant_id, now)
    record = keys.get_key(session, merchant_id, key_id)
    keys.retire_key_record(session, record, now)
    tickets = repo.valid_tickets_signed_with(session, merchant_id, key_id)
    signer = keys.signing_key(active)
    for ticket in tickets:
        ticket.key_id = active.key_id
        ticket.credential = credential_for(ticket, signer)
    session.flush()
    return len(tickets)
