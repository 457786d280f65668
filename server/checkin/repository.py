"""Every SQL statement about check-in. The log is written only by :func:`add_record` (an
INSERT); there is deliberately no update or delete of records here, and
:mod:`server.checkin.guard` refuses them anywhere else."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, select
from sqlalchemy.orm import Session

from server.checkin import guard
from server.checkin.models import (
    CheckerEventScope,
    CheckinRecord,
    CheckinResult,
    CheckinSource,
    StoredRecord,
)
from server.db import hold_advisory_lock
from server.sqlbatch import BatchInsert, one_of
from server.tenancy import get_owned, scoped_select
from server.tickets.models import Ticket

guard.install()

# --- the log -----------------------------------------------------------------------------------


_RECORD_TABLE = cast(Table, CheckinRecord.__table__)
#: Check-in's hot path writes its row with one Core INSERT (no unit-of-work flush).
_INSERT_RECORD = insert(_RECORD_TABLE).returning(_RECORD_TABLE.c.id)


def hold_staff_admission_order(session: Session, merchant_id: int) -> None:
    """Take the merchant's staff check-in turn until the transaction ends (PostgreSQL; SQLite's
    writers take turns anyway). Record ids are taken at insert, not at commit: without the turn
    two staff admissions could commit in the other order, and the gates' chain of staff
    admissions (:mod:`server.fleet.staff_admissions`: each names the one before it, by record
    id) would skip the one committed late. Taken before the ticket is claimed, so that a
    transaction checking several tickets never holds a ticket while waiting for the turn."""
    hold_advisory_lock(session, "checkin.staff", str(merchant_id))


def add_record(session: Session, values: dict[str, Any]) -> StoredRecord:
    """INSERT one log row (every column but the id, as
    :func:`server.checkin.service.record_values` makes them) and return it with its id. A unique
    violation raises ``IntegrityError``."""
    record_id = session.connection().execute(_INSERT_RECORD, values).scalar_one()
    return StoredRecord(id=record_id, **values)


def insert_records(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many new log rows (column values) in one statement (the bulk gate path)."""
    _INSERT_RECORDS.run(session, rows)


_INSERT_RECORDS = BatchInsert(_RECORD_TABLE)


def logged_scan_ids(session: Session, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (merchant id, scan id) pairs the log already holds."""
    wanted = set(keys)
    if not wanted:
        return set()
    query = select(CheckinRecord.merchant_id, CheckinRecord.scan_id).where(
        one_of(session, _RECORD_TABLE.c.merchant_id, {merchant_id for merchant_id, _ in wanted}),
        one_of(session, _RECORD_TABLE.c.scan_id, {scan_id for _, scan_id in wanted}),
    )
    found = {(int(merchant_id), str(scan_id)) for merchant_id, scan_id in session.execute(query)}
    return found & wanted


def get_record(session: Session, merchant_id: int, record_id: int) -> CheckinRecord | None:
    return get_owned(session, CheckinRecord, merchant_id, record_id)


def record_by_scan_id(session: Session, merchant_id: int, scan_id: str) -> CheckinRecord | None:
    query = scoped_select(CheckinRecord, merchant_id).where(CheckinRecord.scan_id == scan_id)
    return session.scalar(query)


def annulment_of(session: Session, record_id: int) -> CheckinRecord | None:
    query = select(CheckinRecord).where(CheckinRecord.annuls_record_id == record_id).limit(1)
    return session.scalar(query)


@dataclass(frozen=True)
class RecordFilter:
    event_id: int | None = None
    checker_user_id: int | None = None
    holder_phone: str | None = None
    ticket_id: int | None = None
    gate_id: int | None = None
    source: CheckinSource | None = None
    result: CheckinResult | None = None
    conflict: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def find_records(
    session: Session, merchant_id: int, where: RecordFilter, *, limit: int, offset: int
) -> Sequence[CheckinRecord]:
    """Newest first; ``since`` inclusive, ``until`` exclusive, on the original scan time."""
    query = scoped_select(CheckinRecord, merchant_id)
    if where.holder_phone is not None:
        query = query.join(Ticket, Ticket.id == CheckinRecord.ticket_id).where(
            Ticket.holder_phone == where.holder_phone
        )
    for column, value in (
        (CheckinRecord.event_id, where.event_id),
        (CheckinRecord.checker_user_id, where.checker_user_id),
        (CheckinRecord.ticket_id, where.ticket_id),
        (CheckinRecord.gate_id, where.gate_id),
        (CheckinRecord.source, where.source),
        (CheckinRecord.result, where.result),
        (CheckinRecord.conflict, where.conflict),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(CheckinRecord.scanned_at >= where.since)
    if where.until is not None:
        query = query.where(CheckinRecord.scanned_at < where.until)
    query = query.order_by(CheckinRecord.scanned_at.desc(), CheckinRecord.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


@dataclass(frozen=True)
class CheckerTotals:
    checker_user_id: int
    admitted: int
    rejected: int
    first_at: datetime
    last_at: datetime


def checker_totals(
    session: Session,
    merchant_id: int,
    *,
    event_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> list[CheckerTotals]:
    """Per checker (people, not gates): admitted and rejected counts and the time span."""
    admitted = func.sum(case((CheckinRecord.result == CheckinResult.ADMITTED, 1), else_=0))
    rejected = func.sum(case((CheckinRecord.result == CheckinResult.REJECTED, 1), else_=0))
    query = (
        select(
            CheckinRecord.checker_user_id,
            admitted,
            rejected,
            func.min(CheckinRecord.scanned_at),
            func.max(CheckinRecord.scanned_at),
        )
        .where(
            CheckinRecord.merchant_id == merchant_id,
            CheckinRecord.checker_user_id.is_not(None),
        )
        .group_by(CheckinRecord.checker_user_id)
        .order_by(CheckinRecord.checker_user_id)
    )
    if event_id is not None:
        query = query.where(CheckinRecord.event_id == event_id)
    if since is not None:
        query = query.where(CheckinRecord.scanned_at >= since)
    if until is not None:
        query = query.where(CheckinRecord.scanned_at < until)
    return [
        CheckerTotals(int(user_id), int(yes or 0), int(no or 0), first, last)
        for user_id, yes, no, first, last in session.execute(query).all()
    ]


# --- checker scopes ----------------------------------------------------------------------------


_SCOPED_EVENTS = (
    select(CheckerEventScope.event_id)
    .where(
        CheckerEventScope.merchant_id == bindparam("merchant_id"),
        CheckerEventScope.user_id == bindparam("user_id"),
    )
    .order_by(CheckerEventScope.event_id)
)


def scoped_events(session: Session, merchant_id: int, user_id: int) -> list[int]:
    """The events a checker is restricted to (empty: none). Every checker's check-in runs it,
    so the statement is built once."""
    params = {"merchant_id": merchant_id, "user_id": user_id}
    return list(session.connection().execute(_SCOPED_EVENTS, params).scalars().all())


def replace_scoped_events(
    session: Session, merchant_id: int, user_id: int, event_ids: Sequence[int]
) -> None:
    session.execute(
        delete(CheckerEventScope).where(
            CheckerEventScope.merchant_id == merchant_id, CheckerEventScope.user_id == user_id
        )
    )
    for event_id in sorted(set(event_ids)):
        session.add(CheckerEventScope(merchant_id=merchant_id, user_id=user_id, event_id=event_id))
    session.flush()
