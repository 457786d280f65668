"""Check-in API for checkers (``/api/merchant/checkin``) and the back office
(``/api/merchant/checkin/backoffice``): verify by credential, code, phone or chosen tickets;
records, per-checker statistics and checkers' event restrictions.

Every verification writes one log row per ticket, admitted or not, in the request's
transaction.

The verifying endpoints are the hot path (a gate line scans several tickets a second per
checker): they are ``async`` and run the caller's token check, the check-in and the commit in
one worker-thread hop (:class:`server.accounts.dependencies.MerchantCall`); the answer is built
in the same transaction, so it reads nothing after the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from server.accounts.dependencies import (
    CheckerCall,
    MerchantChecker,
    MerchantManager,
    MerchantPrincipal,
)
from server.accounts.models import MerchantRole
from server.checkin import service
from server.checkin.models import CheckinMethod, CheckinResult, CheckinSource, Direction
from server.checkin.repository import RecordFilter
from server.checkin.schemas import (
    AttemptIn,
    BackofficeVerifyIn,
    BatchOut,
    CheckerEventsIn,
    CheckerEventsOut,
    CheckerStatsOut,
    CheckinOut,
    CodeIn,
    HolderTicketsOut,
    RecordOut,
    ScanIn,
    TicketBrief,
    TicketsIn,
)
from server.checkin.service import Actor, Attempt, Outcome
from server.clock import Now
from server.db import DbSession
from server.deps import Language
from server.errors import Invalid

router = APIRouter(prefix="/api/merchant/checkin", tags=["check-in"])
backoffice_router = APIRouter(prefix="/api/merchant/checkin/backoffice", tags=["check-in"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


def _actor(
    session: Session, who: MerchantPrincipal, source: CheckinSource, device_id: str = ""
) -> Actor:
    return service.checker_actor(
        session, who.merchant_id, who.user_id, who.role, source=source, device_id=device_id
    )


def _attempt(body: AttemptIn, now: datetime, **changes: object) -> Attempt:
    values: dict[str, object] = {
        "method": CheckinMethod.TICKET,
        "direction": body.direction,
        "scanned_at": now,
        "received_at": now,
        "event_id": body.event_id,
    }
    values.update(changes)
    return Attempt(**values)  # type: ignore[arg-type]


def _batch(outcomes: list[Outcome], language: str, now: datetime) -> BatchOut:
    admitted = sum(1 for outcome in outcomes if outcome.admitted)
    return BatchOut(
        admitted=admitted,
        rejected=len(outcomes) - admitted,
        results=[CheckinOut.of(outcome, language, now) for outcome in outcomes],
    )


# --- checker -----------------------------------------------------------------------------------


@router.post("/scan")
async def check_scanned_credential(
    body: ScanIn, call: CheckerCall, language: Language
) -> CheckinOut:
    """Verify a scanned QR credential (signature, merchant keyring) and check the ticket in."""
    now = call.now
    scanned_at = min(body.scanned_at, now) if body.scanned_at is not None else now
    attempt = _attempt(body, now, scanned_at=scanned_at, offline=body.offline, scan_id=body.scan_id)

    def scan(session: Session, who: MerchantPrincipal) -> CheckinOut:
        actor = _actor(session, who, CheckinSource.CHECKER, body.device_id)
        outcome = service.check_credential(
            session, who.merchant_id, actor, body.credential, attempt
        )
        return CheckinOut.of(outcome, language, now)

    return await call.run(scan)


@router.post("/code")
async def check_typed_code(body: CodeIn, call: CheckerCall, language: Language) -> CheckinOut:
    """Check in the ticket with a typed 12-digit code (spaces, dashes, full-width digits ok)."""
    now = call.now
    attempt = _attempt(body, now, scan_id=body.scan_id)

    def check(session: Session, who: MerchantPrincipal) -> CheckinOut:
        actor = _actor(session, who, CheckinSource.CHECKER, body.device_id)
        outcome = service.check_code(session, who.merchant_id, actor, body.code, attempt)
        return CheckinOut.of(outcome, language, now)

    return await call.run(check)


@router.get("/phone")
def tickets_of_phone(
    who: MerchantChecker,
    session: DbSession,
    now: Now,
    phone: str,
    event_id: int | None = None,
) -> list[TicketBrief]:
    """A phone number's tickets that could enter now (for the event, if given)."""
    if not phone.strip():
        raise Invalid("checkin.phone_required")
    tickets = service.usable_tickets_of_phone(session, who.merchant_id, phone, event_id, now)
    return [TicketBrief.of(ticket, now) for ticket in tickets]


@router.post("/tickets")
async def check_chosen_tickets(body: TicketsIn, call: CheckerCall, language: Language) -> BatchOut:
    """Check in chosen tickets (e.g. from the phone lookup); one result per ticket."""
    now = call.now

    def check(session: Session, who: MerchantPrincipal) -> BatchOut:
        actor = _actor(session, who, CheckinSource.CHECKER, body.device_id)
        outcomes = service.check_tickets(
            session, who.merchant_id, actor, body.ticket_ids, _attempt(body, now)
        )
        return _batch(outcomes, language, now)

    return await call.run(check)


# --- back office -------------------------------------------------------------------------------


@backoffice_router.get("/holder")
def holder_tickets(
    who: MerchantChecker, session: DbSession, now: Now, code: str
) -> HolderTicketsOut:
    """Type one code, see every ticket of that holder for that event."""
    holder = service.holder_tickets(session, who.merchant_id, code)
    return HolderTicketsOut(
        ticket_id=holder.named.id,
        event_id=holder.named.event_id,
        tickets=[TicketBrief.of(ticket, now) for ticket in holder.tickets],
    )


@backoffice_router.post("/verify")
async def verify_holder_tickets(
    body: BackofficeVerifyIn, call: CheckerCall, language: Language
) -> BatchOut:
    """Verify one, several or all (``ticket_ids`` omitted: all still usable) of the tickets of
    the holder a code names. Each ticket gets its own log row; the answer is per ticket."""
    now = call.now
    attempt = Attempt(
        method=CheckinMethod.TICKET,
        direction=Direction.IN,
        scanned_at=now,
        received_at=now,
        event_id=body.event_id,
    )

    def verify(session: Session, who: MerchantPrincipal) -> BatchOut:
        actor = _actor(session, who, CheckinSource.BACKOFFICE)
        outcomes = service.verify_holder_tickets(
            session, who.merchant_id, actor, body.code, body.ticket_ids, attempt
        )
        return _batch(outcomes, language, now)

    return await call.run(verify)


# --- records and statistics --------------------------------------------------------------------


@router.get("/records")
def list_records(
    who: MerchantChecker,
    session: DbSession,
    phone: str | None = None,
    checker_id: int | None = None,
    event_id: int | None = None,
    ticket_id: int | None = None,
    gate_id: int | None = None,
    source: CheckinSource | None = None,
    result: CheckinResult | None = None,
    conflict: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[RecordOut]:
    """Check-in records, newest first. A checker sees only their own; managers see all."""
    if who.role is MerchantRole.CHECKER:
        checker_id = who.user_id
    where = RecordFilter(
        event_id=event_id,
        checker_user_id=checker_id,
        ticket_id=ticket_id,
        gate_id=gate_id,
        source=source,
        result=result,
        conflict=conflict,
        since=since,
        until=until,
    )
    records = service.find_records(
        session, who.merchant_id, where, phone_text=phone, limit=limit, offset=offset
    )
    return [RecordOut.of(record) for record in records]


@router.get("/records/{record_id}")
def get_record(record_id: int, who: MerchantManager, session: DbSession) -> RecordOut:
    return RecordOut.of(service.get_record(session, who.merchant_id, record_id))


@router.get("/stats/checkers")
def checker_statistics(
    who: MerchantManager,
    session: DbSession,
    event_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[CheckerStatsOut]:
    """Admitted and rejected counts per checker; ``records_url`` drills down to the rows."""
    totals = service.checker_totals(
        session, who.merchant_id, event_id=event_id, since=since, until=until
    )
    return [CheckerStatsOut.of(row) for row in totals]


@router.get("/checkers/{user_id}/events")
def get_checker_events(user_id: int, who: MerchantManager, session: DbSession) -> CheckerEventsOut:
    events = service.checker_events(session, who.merchant_id, user_id)
    return CheckerEventsOut(user_id=user_id, event_ids=events)


@router.put("/checkers/{user_id}/events")
def set_checker_events(
    user_id: int, body: CheckerEventsIn, who: MerchantManager, session: DbSession
) -> CheckerEventsOut:
    """Restrict a checker to some events (an empty list lifts the restriction)."""
    events = service.set_checker_events(session, who.merchant_id, user_id, body.event_ids)
    return CheckerEventsOut(user_id=user_id, event_ids=events)
