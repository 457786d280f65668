"""Tickets tables: tickets, each merchant's signing keys, and each merchant's code-hash salt.

Tickets name their event, ticket type, order and order item by id without foreign keys into
the catalog and sales tables: tickets outlive edits to those packages' layouts, and the
ticket row carries every fact a gate needs (copied at issuance), so nothing is joined at
check-in time.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, TenantMixin, enum_column


class TicketStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class SigningKeyState(enum.StrEnum):
    """``active`` signs new tickets (one per merchant); ``trusted`` still verifies;
    ``retired`` verifies nothing."""

    ACTIVE = "active"
    TRUSTED = "trusted"
    RETIRED = "retired"


class Ticket(TenantMixin, Base):
    """One admission right: one order item, one holder, one code, one signed credential."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        UniqueConstraint("order_item_id"),
        Index("ix_tickets_merchant_id_holder_phone", "merchant_id", "holder_phone"),
        Index("ix_tickets_merchant_id_order_id", "merchant_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(index=True)
    ticket_type_id: Mapped[int]
    order_id: Mapped[int]
    order_item_id: Mapped[int]
    visitor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    holder_name: Mapped[str] = mapped_column(String(100), default="")
    holder_phone: Mapped[str | None] = mapped_column(String(20))
    holder_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    visit_date: Mapped[date | None]
    #: 12 digits with a Damm check digit, unique within the merchant.
    code: Mapped[str] = mapped_column(String(12))
    #: ``protocol.allowlist.hash_code(code, merchant salt)``: what kiosks store and report.
    code_hash: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus, "ticket_status"))
    #: 0 means unlimited.
    entries_allowed: Mapped[int]
    #: Entries in use: admissions counted so far, minus annulled ones. Check-in moves it with a
    #: conditional UPDATE that refuses to pass ``entries_allowed`` (the allowance guard).
    entries_used: Mapped[int] = mapped_column(default=0)
    #: The highest entry number handed out (never goes down; numbers the check-in log's
    #: admissions, which are unique per ticket).
    last_entry_no: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    #: The merchant key id that signed ``credential``.
    key_id: Mapped[int]
    credential: Mapped[str] = mapped_column(String(256))
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(String(200), default="")


class TicketSigningKey(TenantMixin, Base):
    """One Ed25519 key of a merchant. ``private_key`` is ``SigningKey.to_text()``: kept in the
    database for now (docs/tickets.md says how it moves to a KMS)."""

    __tablename__ = "ticket_signing_keys"
    __table_args__ = (UniqueConstraint("merchant_id", "key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int]
    public_key: Mapped[str] = mapped_column(String(64))
    private_key: Mapped[str] = mapped_column(Text)
    state: Mapped[SigningKeyState] = mapped_column(
        enum_column(SigningKeyState, "signing_key_state")
    )
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class TicketCodeSalt(TenantMixin, Base):
    """The salt kiosks hash typed codes with (``protocol.allowlist.hash_code``), per merchant."""

    __tablename__ = "ticket_code_salts"
    __table_args__ = (UniqueConstraint("merchant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
