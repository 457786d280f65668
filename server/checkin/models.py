"""Check-in tables: the append-only log, and which events a checker may check.

Every check-in attempt (a checker's scan, a back-office verification, a gate's scan) is one
:class:`CheckinRecord`, admitted or rejected, never updated or deleted (the repository has no
such statement and :mod:`server.checkin.guard` refuses them). An admission that counts as an
entry carries the ``entry_no`` it claimed from the ticket's conditional counter update (see
:mod:`server.checkin.service`); ``(ticket_id, entry_no)`` is unique, so even a faulty claim
could not store the same entry twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, TenantMixin, enum_column


class CheckinSource(enum.StrEnum):
    CHECKER = "checker"
    BACKOFFICE = "backoffice"
    GATE = "gate"


class CheckinMethod(enum.StrEnum):
    """How the ticket was identified."""

    CREDENTIAL = "credential"
    CODE = "code"
    TICKET = "ticket"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class CheckinResult(enum.StrEnum):
    ADMITTED = "admitted"
    REJECTED = "rejected"


class CheckinRecord(TenantMixin, Base):
    """One check-in attempt. ``scanned_at`` is when it happened (a gate's original time, also
    after hours offline); ``received_at`` is when the server stored it."""

    __tablename__ = "checkin_records"
    __table_args__ = (
        UniqueConstraint("ticket_id", "entry_no"),
        UniqueConstraint("merchant_id", "scan_id"),
        Index("ix_checkin_records_merchant_id_scanned_at", "merchant_id", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="RESTRICT"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(index=True)
    source: Mapped[CheckinSource] = mapped_column(enum_column(CheckinSource, "checkin_source"))
    method: Mapped[CheckinMethod] = mapped_column(enum_column(CheckinMethod, "checkin_method"))
    checker_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: The fleet's gate id (gate scans).
    gate_id: Mapped[int | None] = mapped_column(index=True)
    #: The checker's device, as the checker app names it.
    device_id: Mapped[str] = mapped_column(String(64), default="")
    #: The gate's scan id (gate scans) or the checker app's idempotency key.
    scan_id: Mapped[str | None] = mapped_column(String(64))
    #: What was presented when no ticket matched it: a typed code or a code hash.
    presented: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "checkin_direction"))
    result: Mapped[CheckinResult] = mapped_column(enum_column(CheckinResult, "checkin_result"))
    #: A ``protocol.reasons`` code: ``admitted`` or why not.
    reason: Mapped[str] = mapped_column(String(32))
    #: Which entry of the ticket this admission is (admissions that count only).
    entry_no: Mapped[int | None]
    #: The admission this record annuls (a gate's ``not_passed``: nobody walked through).
    annuls_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkin_records.id", ondelete="RESTRICT")
    )
    offline: Mapped[bool] = mapped_column(default=False)
    #: A gate admitted what the server would have refused online (pretix's rule).
    conflict: Mapped[bool] = mapped_column(default=False, index=True)
    conflict_reason: Mapped[str] = mapped_column(String(32), default="")
    scanned_at: Mapped[datetime]
    received_at: Mapped[datetime]


@dataclass(frozen=True)
class StoredRecord:
    """A log row the check-in API just wrote, as plain values: the hot path inserts it with
    one Core ``INSERT ... RETURNING id`` and answers from this, without an ORM object (the log
    is append-only, so there is nothing for a session to track). Reads of the log load
    :class:`CheckinRecord`; both have the same attributes (:data:`LoggedRecord`)."""

    id: int
    merchant_id: int
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


#: A log row: just written (:class:`StoredRecord`) or loaded (:class:`CheckinRecord`).
LoggedRecord = CheckinRecord | StoredRecord


class CheckerEventScope(TenantMixin, Base):
    """Restricts a checker to some events; a checker with no rows may check every event."""

    __tablename__ = "checker_event_scopes"
    __table_args__ = (UniqueConstraint("merchant_id", "user_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int]
