"""Sales tables: cart items, orders, order items (one ticket each), payments of orders, refunds.

Stock is held by orders, not carts: a cart item reserves nothing until checkout. An order in
``awaiting_approval``, ``pending_payment`` or ``paid`` holds its items' stock; leaving those
states through a conditional status update is what gives the stock back, exactly once.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.catalog.models import TicketType
from server.db import Base, TenantMixin, enum_column


class OrderStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    EXPIRED = "expired"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class CloseReason(enum.StrEnum):
    """Why an order stopped holding its stock before it was paid, for the visitor to read."""

    PAYMENT_TIMEOUT = "payment_timeout"
    APPROVAL_TIMEOUT = "approval_timeout"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class ItemStatus(enum.StrEnum):
    ACTIVE = "active"
    REFUNDED = "refunded"


class RefundRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    #: Closed because a manager refunded every ticket it asked for another way (a direct
    #: refund of the order); ``refund_id`` names that refund.
    SUPERSEDED = "superseded"
    #: Closed because none of the tickets it asked for can be refunded any more and no refund
    #: gave them back: revoked without a refund (e.g. by a manager directly), or used.
    VOIDED = "voided"


class RefundBlock(enum.StrEnum):
    """Why a ticket a refund request names cannot be refunded any more (computed, not stored)."""

    #: The order item was refunded (by an approval or a direct refund).
    REFUNDED = "refunded"
    #: The ticket was revoked without a refund of its item.
    REVOKED = "revoked"
    #: The ticket has been admitted (``entries_used > 0``: at a gate or by a checker; an
    #: annulled admission gives its entry back).
    USED = "used"
    #: No ticket was issued for the item.
    NOT_ISSUED = "not_issued"


class CartItem(TenantMixin, Base):
    """One ticket in a visitor's cart, with its holder; stock is taken only at checkout."""

    __tablename__ = "cart_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_types.id", ondelete="CASCADE"))
    holder_name: Mapped[str | None] = mapped_column(String(200))
    holder_phone: Mapped[str | None] = mapped_column(String(20))
    holder_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    visit_date: Mapped[date | None]
    created_at: Mapped[datetime]

    ticket_type: Mapped[TicketType] = relationship()


order_payments = Table(
    "order_payments",
    Base.metadata,
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "payment_id", ForeignKey("payments.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Order(TenantMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refund_in_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus, "order_status", length=32))
    total_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    refunded_fen: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    #: When an open order lets its stock go: the payment deadline while ``pending_payment``,
    #: the approval deadline while ``awaiting_approval``.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Why an unpaid order was closed (expired, rejected, cancelled); null otherwise.
    close_reason: Mapped[CloseReason | None] = mapped_column(
        enum_column(CloseReason, "order_close_reason", length=32)
    )
    paid_at: Mapped[datetime | None]
    #: The payment that settled the order (null for free orders).
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_note: Mapped[str] = mapped_column(String(500), default="")

    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")


class OrderItem(TenantMixin, Base):
    """One ticket of an order: its type, the price charged, and its holder."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    ticket_type_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_types.id", ondelete="RESTRICT"), index=True
    )
    price_fen: Mapped[int]
    holder_name: Mapped[str | None] = mapped_column(String(200))
    holder_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    holder_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    visit_date: Mapped[date | None]
    status: Mapped[ItemStatus] = mapped_column(
        enum_column(ItemStatus, "order_item_status", length=32)
    )
    refunded_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="items")
    ticket_type: Mapped[TicketType] = relationship()


class Refund(TenantMixin, Base):
    """Money given back for some items of an order (and through which payment)."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    amount_fen: Mapped[int]
    item_ids: Mapped[list[int]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class RefundRequest(TenantMixin, Base):
    """A visitor asking for unused tickets of their paid order back. A manager approves it (the
    refund then goes through :func:`server.sales.service.refund_order`, like a staff refund) or
    rejects it; the visitor may withdraw it while it is pending. It follows what happens to its
    tickets meanwhile (:func:`server.sales.service.follow_refund_request`: when they are revoked,
    when it is approved, and in the periodic sweep): once none of them can be refunded any more
    it is closed, ``superseded`` if a direct refund gave some back, else ``voided`` (revoked
    without a refund, or used); while some still can, it is narrowed to those."""

    __tablename__ = "refund_requests"
    __table_args__ = (UniqueConstraint("pending_order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    visitor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: The order items asked for, ascending (less those refunded, revoked or used meanwhile).
    item_ids: Mapped[list[int]] = mapped_column(JSON)
    #: What those items cost (the refund itself is summed again on approval).
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[RefundRequestStatus] = mapped_column(
        enum_column(RefundRequestStatus, "refund_request_status", length=32), index=True
    )
    #: The order's id while the request is pending, null once decided: at most one pending
    #: request per order (NULLs never collide in a unique constraint).
    pending_order_id: Mapped[int | None]
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    #: The refund an approval made, or the direct refund that superseded the request.
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="SET NULL"))

    order: Mapped[Order] = relationship()
