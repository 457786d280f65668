"""Payments tables: payments (one may settle several orders) and the provider notifications seen.

Payments know nothing about orders: sales links its orders to a payment (``order_payments``)
and settles them when a payment succeeds.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, TenantMixin, enum_column


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class NotificationOutcome(enum.StrEnum):
    """What became of one signature-checked provider notification."""

    ACCEPTED = "accepted"
    #: The payment was already settled by an earlier notification (same transaction).
    DUPLICATE = "duplicate"
    AMOUNT_MISMATCH = "amount_mismatch"
    UNKNOWN_PAYMENT = "unknown_payment"
    FAILED = "failed"


class Payment(TenantMixin, Base):
    """Money asked of a payer through one provider; ``reference`` is our trade number."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "provider_txn_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status", length=32), index=True
    )
    #: The provider's transaction id; unique per provider, so one transaction pays once.
    provider_txn_id: Mapped[str | None] = mapped_column(String(64))
    payer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Staff who took the money (offline/cash payments).
    recorded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    refunded_fen: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]


class PaymentNotification(Base):
    """One provider notification whose signature checked out; the nonce may appear only once."""

    __tablename__ = "payment_notifications"
    __table_args__ = (UniqueConstraint("provider", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(40), index=True)
    provider_txn_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int]
    outcome: Mapped[NotificationOutcome] = mapped_column(
        enum_column(NotificationOutcome, "notification_outcome", length=32)
    )
    #: The signed timestamp; pruning goes by it (see ``providers.nonce_prune_cutoff``).
    sent_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime]
