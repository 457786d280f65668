"""Every SQL statement about tickets, signing keys and code salts. Writes flush, so constraint
violations surface where they happen (callers wrap inserts that may collide in a savepoint)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from server.sqlbatch import is_postgresql, one_of
from server.tenancy import get_owned, scoped_select
from server.tickets.models import (
    SigningKeyState,
    Ticket,
    TicketCodeSalt,
    TicketSigningKey,
    TicketStatus,
)

# --- tickets -----------------------------------------------------------------------------------


def add_ticket(session: Session, ticket: Ticket) -> Ticket:
    session.add(ticket)
    session.flush()
    return ticket


def get_ticket(session: Session, merchant_id: int, ticket_id: int) -> Ticket | None:
    return get_owned(session, Ticket, merchant_id, ticket_id)


def get_ticket_for_visitor(session: Session, user_id: int, ticket_id: int) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(Ticket.id == ticket_id, Ticket.visitor_user_id == user_id)
    )


def lock_ticket(session: Session, merchant_id: int, ticket_id: int) -> Ticket | None:
    """The ticket, row-locked until the transaction ends (``FOR UPDATE``; on SQLite a write
    transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock)."""
    return session.scalar(
        scoped_select(Ticket, merchant_id).where(Ticket.id == ticket_id).with_for_update()
    )


def get_ticket_by_code(session: Session, merchant_id: int, code: str) -> Ticket | None:
    return session.scalar(scoped_select(Ticket, merchant_id).where(Ticket.code == code))


def get_ticket_by_code_hash(session: Session, merchant_id: int, code_hash: str) -> Ticket | None:
    return session.scalar(
        scoped_select(Ticket, merchant_id).where(Ticket.code_hash == code_hash).limit(1)
    )


def code_exists(session: Session, merchant_id: int, code: str) -> bool:
    query = select(Ticket.id).where(Ticket.merchant_id == merchant_id, Ticket.code == code)
    return session.scalar(query) is not None


def tickets_of_order_items(session: Session, order_item_ids: Sequence[int]) -> Sequence[Ticket]:
    if not order_item_ids:
        return []
    query = select(Ticket).where(Ticket.order_item_id.in_(order_item_ids)).order_by(Ticket.id)
    return session.scalars(query).all()


def tickets_of_order(session: Session, merchant_id: int, order_id: int) -> Sequence[Ticket]:
    query = scoped_select(Ticket, merchant_id).where(Ticket.order_id == order_id)
    return session.scalars(query.order_by(Ticket.id)).all()


def tickets_of_visitor_order(session: Session, user_id: int, order_id: int) -> Sequence[Ticket]:
    query = select(Ticket).where(Ticket.visitor_user_id == user_id, Ticket.order_id == order_id)
    return session.scalars(query.order_by(Ticket.id)).all()


def tickets_of_visitor(session: Session, user_id: int) -> Sequence[Ticket]:
    query = select(Ticket).where(Ticket.visitor_user_id == user_id)
    return session.scalars(query.order_by(Ticket.issued_at.desc(), Ticket.id.desc())).all()


def find_tickets(
    session: Session,
    merchant_id: int,
    *,
    event_id: int | None = None,
    order_id: int | None = None,
    holder_phone: str | None = None,
    status: TicketStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Ticket]:
    query = scoped_select(Ticket, merchant_id)
    if event_id is not None:
        query = query.where(Ticket.event_id == event_id)
    if order_id is not None:
        query = query.where(Ticket.order_id == order_id)
    if holder_phone is not None:
        query = query.where(Ticket.holder_phone == holder_phone)
    if status is not None:
        query = query.where(Ticket.status == status)
    return session.scalars(query.order_by(Ticket.id).limit(limit).offset(offset)).all()


_TICKET_TABLE = cast(Table, Ticket.__table__)

#: Built once: check-in runs it for every admission. On the table, not the mapped class: a Core
#: UPDATE skips the ORM's bulk-update machinery (the caller sets the loaded object's values).
_CLAIM_ENTRY = (
    update(_TICKET_TABLE)
    .where(
        _TICKET_TABLE.c.id == bindparam("ticket_id"),
        _TICKET_TABLE.c.status == TicketStatus.VALID,
        (_TICKET_TABLE.c.entries_allowed == 0)
        | (_TICKET_TABLE.c.entries_used < _TICKET_TABLE.c.entries_allowed),
    )
    .values(
        entries_used=_TICKET_TABLE.c.entries_used + 1,
        last_entry_no=_TICKET_TABLE.c.last_entry_no + 1,
    )
    .returning(_TICKET_TABLE.c.entries_used, _TICKET_TABLE.c.last_entry_no)
)


def claim_entry(session: Session, ticket_id: int) -> tuple[int, int] | None:
    """Take the ticket's next entry, atomically: its new ``(entries_used, last_entry_no)``, or
    None when the ticket is revoked or has no entry left *in the database* (whatever the caller
    loaded earlier says).

    One conditional ``UPDATE ... RETURNING``: PostgreSQL row-locks the ticket and re-checks the
    condition against the committed row after a concurrent claim commits; SQLite's writers are
    serialised by the write transaction's ``BEGIN IMMEDIATE``. So concurrent claims can never
    exceed the allowance.
    """
    claimed = session.connection().execute(_CLAIM_ENTRY, {"ticket_id": ticket_id}).first()
    if claimed is None:
        return None
    entries_used, last_entry_no = claimed
    return int(entries_used), int(last_entry_no)


@dataclass(frozen=True)
class TicketSnapshot:
    """A ticket as check-in reads and answers it, loaded with one Core ``SELECT`` instead of
    as an ORM object (the check-in API's hot path: building the mapped object was a fifth of a
    check-in's database work). A snapshot: :func:`claim_entry` returns the new counters and the
    caller makes the next state with :meth:`claimed`."""

    id: int
    merchant_id: int
    event_id: int
    ticket_type_id: int
    order_id: int
    status: TicketStatus
    valid_from: datetime | None
    valid_until: datetime | None
    entries_allowed: int
    entries_used: int
    last_entry_no: int
    holder_name: str
    holder_phone: str | None
    code: str

    @classmethod
    def of(cls, ticket: Ticket) -> TicketSnapshot:
        """The state of a loaded ticket."""
        return cls(**{name: getattr(ticket, name) for name in _STATE_FIELDS})

    def claimed(self, entries_used: int, last_entry_no: int) -> TicketSnapshot:
        return replace(self, entries_used=entries_used, last_entry_no=last_entry_no)


_STATE_FIELDS = tuple(field.name for field in fields(TicketSnapshot))
_STATE_COLUMNS = tuple(_TICKET_TABLE.c[name] for name in _STATE_FIELDS)
#: Built once: the check-in API reads one ticket per request, by id or by typed code.
_STATE_BY_ID = select(*_STATE_COLUMNS).where(_TICKET_TABLE.c.id == bindparam("ticket_id"))
_STATE_BY_CODE = select(*_STATE_COLUMNS).where(
    _TICKET_TABLE.c.merchant_id == bindparam("merchant_id"),
    _TICKET_TABLE.c.code == bindparam("code"),
)


def ticket_snapshot(session: Session, merchant_id: int, ticket_id: int) -> TicketSnapshot | None:
    """The merchant's ticket with this id, as check-in reads it; None if not the merchant's."""
    row = session.connection().execute(_STATE_BY_ID, {"ticket_id": ticket_id}).first()
    if row is None or row.merchant_id != merchant_id:
        return None
    return TicketSnapshot(*row)


def ticket_snapshot_by_code(session: Session, merchant_id: int, code: str) -> TicketSnapshot | None:
    """The merchant's ticket with this 12-digit code, as check-in reads it."""
    parameters = {"merchant_id": merchant_id, "code": code}
    row = session.connection().execute(_STATE_BY_CODE, parameters).first()
    return None if row is None else TicketSnapshot(*row)


def lock_tickets_for_checkin(
    session: Session,
    *,
    merchant_ids: Collection[int],
    ids: Collection[int],
    codes: Collection[str],
    code_hashes: Collection[str],
) -> Sequence[Any]:
    """The check-in columns of the merchants' tickets named by id, typed code or code hash,
    row-locked in id order until the transaction ends (concurrent batches lock in the same
    order; on SQLite the write transaction already holds the write lock)."""
    named = [
        condition
        for condition in (
            one_of(session, _TICKET_TABLE.c.id, ids) if ids else None,
            one_of(session, _TICKET_TABLE.c.code, codes) if codes else None,
            one_of(session, _TICKET_TABLE.c.code_hash, code_hashes) if code_hashes else None,
        )
        if condition is not None
    ]
    if not named or not merchant_ids:
        return []
    query = (
        select(*_CHECKIN_COLUMNS)
        .where(one_of(session, _TICKET_TABLE.c.merchant_id, merchant_ids), or_(*named))
        .order_by(Ticket.id)
        .with_for_update(of=Ticket)
    )
    return session.execute(query).all()


_CHECKIN_COLUMNS = (
    Ticket.id,
    Ticket.merchant_id,
    Ticket.event_id,
    Ticket.status,
    Ticket.valid_from,
    Ticket.valid_until,
    Ticket.entries_allowed,
    Ticket.entries_used,
    Ticket.last_entry_no,
    Ticket.code,
    Ticket.code_hash,
)

#: The bulk gate path sets counters it computed under the rows' locks; rows are JSON
#: ``[[ticket id, entries used, last entry no], ...]``.
_SET_ENTRY_COUNTERS_POSTGRESQL = text(
    "UPDATE tickets SET entries_used = (c.value->>1)::integer,"
    " last_entry_no = (c.value->>2)::integer"
    " FROM json_array_elements(CAST(:rows AS json)) AS c"
    " WHERE tickets.id = (c.value->>0)::integer"
)
_SET_ENTRY_COUNTERS_SQLITE = text(
    "UPDATE tickets SET entries_used = c.used, last_entry_no = c.last"
    " FROM (SELECT value->>0 AS id, value->>1 AS used, value->>2 AS last"
    " FROM json_each(:rows)) AS c"
    " WHERE tickets.id = c.id"
)


def set_entry_counters(session: Session, counters: Sequence[tuple[int, int, int]]) -> None:
    """Set (ticket id, entries used, last entry number) for tickets locked by
    :func:`lock_tickets_for_checkin` in this transaction: one UPDATE from the rows as JSON,
    whatever their number (one statement per ticket cost the database a parse, plan and
    round trip each: most of the gate check-in stage's time on PostgreSQL)."""
    if not counters:
        return
    rows = json.dumps([[id_, used, last] for id_, used, last in counters])
    statement = (
        _SET_ENTRY_COUNTERS_POSTGRESQL if is_postgresql(session) else _SET_ENTRY_COUNTERS_SQLITE
    )
    session.connection().execute(statement, {"rows": rows})


def release_entry(session: Session, ticket_id: int) -> None:
    """Give an entry back (an annulled admission)."""
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.entries_used > 0)
        .values(entries_used=Ticket.entries_used - 1)
        .execution_options(synchronize_session="fetch")
    )


def reload_ticket(session: Session, ticket: Ticket) -> None:
    """Read the ticket's row again (after a refused claim, to say why)."""
    session.refresh(ticket)


def valid_tickets_signed_with(session: Session, merchant_id: int, key_id: int) -> Sequence[Ticket]:
    query = scoped_select(Ticket, merchant_id).where(
        Ticket.key_id == key_id, Ticket.status == TicketStatus.VALID
    )
    return session.scalars(query.order_by(Ticket.id)).all()


# --- signing keys ------------------------------------------------------------------------------


def signing_keys(session: Session, merchant_id: int) -> Sequence[TicketSigningKey]:
    query = scoped_select(TicketSigningKey, merchant_id).order_by(TicketSigningKey.key_id)
    return session.scalars(query).all()


def active_signing_key(session: Session, merchant_id: int) -> TicketSigningKey | None:
    query = scoped_select(TicketSigningKey, merchant_id).where(
        TicketSigningKey.state == SigningKeyState.ACTIVE
    )
    return session.scalar(query)


def get_signing_key(session: Session, merchant_id: int, key_id: int) -> TicketSigningKey | None:
    query = scoped_select(TicketSigningKey, merchant_id).where(TicketSigningKey.key_id == key_id)
    return session.scalar(query)


def highest_key_id(session: Session, merchant_id: int) -> int | None:
    query = select(func.max(TicketSigningKey.key_id)).where(
        TicketSigningKey.merchant_id == merchant_id
    )
    value: int | None = session.scalar(query)
    return value


def add_signing_key(session: Session, key: TicketSigningKey) -> TicketSigningKey:
    session.add(key)
    session.flush()
    return key


def demote_active_keys(session: Session, merchant_id: int, except_key_id: int) -> None:
    session.execute(
        update(TicketSigningKey)
        .where(
            TicketSigningKey.merchant_id == merchant_id,
            TicketSigningKey.state == SigningKeyState.ACTIVE,
            TicketSigningKey.key_id != except_key_id,
        )
        .values(state=SigningKeyState.TRUSTED)
        .execution_options(synchronize_session="fetch")
    )


def retire_signing_key(session: Session, key: TicketSigningKey, now: datetime) -> None:
    key.state = SigningKeyState.RETIRED
    key.retired_at = now
    session.flush()


# --- code salts --------------------------------------------------------------------------------


def get_code_salt(session: Session, merchant_id: int) -> TicketCodeSalt | None:
    return session.scalar(scoped_select(TicketCodeSalt, merchant_id))


def add_code_salt(session: Session, salt: TicketCodeSalt) -> TicketCodeSalt:
    session.add(salt)
    session.flush()
    return salt
