"""Request and response bodies of the check-in API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from protocol.codes import format_code
from server.checkin.messages import reason_message_id
from server.checkin.models import (
    CheckinMethod,
    CheckinResult,
    CheckinSource,
    Direction,
    LoggedRecord,
)
from server.checkin.repository import CheckerTotals
from server.checkin.service import Outcome
from server.i18n import translate
from server.phones import mask_phone
from server.tickets.models import Ticket, TicketStatus
from server.tickets.repository import TicketSnapshot
from server.tickets.service import entries_remaining, is_usable


class AttemptIn(BaseModel):
    #: The event being checked at this entrance; tickets of other events are refused.
    event_id: int | None = None
    direction: Direction = Direction.IN
    device_id: str = Field(default="", max_length=64)


class ScanIn(AttemptIn):
    credential: str = Field(max_length=256)
    #: The app's id for this scan: sending it again returns the first result (retries).
    scan_id: str | None = Field(default=None, min_length=1, max_length=64)
    #: When an offline checker app scanned (not in the future); default: now.
    scanned_at: datetime | None = None
    offline: bool = False


class CodeIn(AttemptIn):
    code: str = Field(max_length=64)
    scan_id: str | None = Field(default=None, min_length=1, max_length=64)


class TicketsIn(AttemptIn):
    ticket_ids: list[int] = Field(min_length=1, max_length=100)


class BackofficeVerifyIn(BaseModel):
    code: str = Field(max_length=64)
    #: Which of the holder's tickets to verify; omitted: every one still usable.
    ticket_ids: list[int] | None = Field(default=None, max_length=100)
    event_id: int | None = None


class CheckerEventsIn(BaseModel):
    #: Empty: the checker may check every event.
    event_ids: list[int] = Field(max_length=500)


class TicketBrief(BaseModel):
    """A ticket as a checker sees it (phone masked)."""

    id: int
    event_id: int
    ticket_type_id: int
    order_id: int
    holder_name: str
    holder_phone: str | None
    code_display: str
    status: TicketStatus
    entries_allowed: int
    entries_used: int
    entries_remaining: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    #: Could enter now.
    usable: bool

    @classmethod
    def of(cls, ticket: Ticket | TicketSnapshot, now: datetime) -> TicketBrief:
        return cls(
            id=ticket.id,
            event_id=ticket.event_id,
            ticket_type_id=ticket.ticket_type_id,
            order_id=ticket.order_id,
            holder_name=ticket.holder_name,
            holder_phone=mask_phone(ticket.holder_phone) if ticket.holder_phone else None,
            code_display=format_code(ticket.code),
            status=ticket.status,
            entries_allowed=ticket.entries_allowed,
            entries_used=ticket.entries_used,
            entries_remaining=entries_remaining(ticket),
            valid_from=ticket.valid_from,
            valid_until=ticket.valid_until,
            usable=is_usable(ticket, now),
        )


class CheckinOut(BaseModel):
    record_id: int
    admitted: bool
    result: CheckinResult
    #: A ``protocol.reasons`` code.
    reason: str
    #: The reason in the request's language, for the checker's screen.
    message: str
    entry_no: int | None
    scanned_at: datetime
    ticket: TicketBrief | None

    @classmethod
    def of(cls, outcome: Outcome, language: str, now: datetime) -> CheckinOut:
        record = outcome.record
        return cls(
            record_id=record.id,
            admitted=outcome.admitted,
            result=record.result,
            reason=record.reason,
            message=translate(reason_message_id(record.reason), language),
            entry_no=record.entry_no,
            scanned_at=record.scanned_at,
            ticket=None if outcome.ticket is None else TicketBrief.of(outcome.ticket, now),
        )


class BatchOut(BaseModel):
    """One result per ticket; a partial success is normal (some admitted, some refused)."""

    admitted: int
    rejected: int
    results: list[CheckinOut]


class HolderTicketsOut(BaseModel):
    """The ticket a code names and every ticket of its holder for that event."""

    ticket_id: int
    event_id: int
    tickets: list[TicketBrief]


class RecordOut(BaseModel):
    id: int
    ticket_id: int | None
    event_id: int | None
    source: CheckinSource
    method: CheckinMethod
    checker_user_id: int | None
    gate_id: int | None
    device_id: str
    scan_id: str | None
    presented: str
    direction: Direction
    result: CheckinResult
    reason: str
    entry_no: int | None
    annuls_record_id: int | None
    offline: bool
    conflict: bool
    conflict_reason: str
    scanned_at: datetime
    received_at: datetime

    @classmethod
    def of(cls, record: LoggedRecord) -> RecordOut:
        """Every column but the merchant (tests/server/checkin/test_record_shapes.py keeps
        this, :class:`StoredRecord` and :class:`CheckinRecord` in step)."""
        return cls.model_validate(record, from_attributes=True)


class CheckerStatsOut(BaseModel):
    checker_user_id: int
    admitted: int
    rejected: int
    first_at: datetime
    last_at: datetime
    #: The records behind these numbers.
    records_url: str

    @classmethod
    def of(cls, totals: CheckerTotals) -> CheckerStatsOut:
        return cls(
            checker_user_id=totals.checker_user_id,
            admitted=totals.admitted,
            rejected=totals.rejected,
            first_at=totals.first_at,
            last_at=totals.last_at,
            records_url=f"/api/merchant/checkin/records?checker_id={totals.checker_user_id}",
        )


class CheckerEventsOut(BaseModel):
    user_id: int
    event_ids: list[int]
