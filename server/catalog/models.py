"""Catalog tables: venues (a venue's slug is its MQTT site id), zones, events, ticket types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, TenantMixin

DEFAULT_VENUE_TIMEZONE = "Asia/Shanghai"


class Venue(TenantMixin, Base):
    """A place with gates. ``slug`` is the site id in MQTT topics, so it is unique platform-wide."""

    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_VENUE_TIMEZONE)
    created_at: Mapped[datetime]

    zones: Mapped[list[Zone]] = relationship(back_populates="venue", order_by="Zone.id")


class Zone(TenantMixin, Base):
    """An area of a venue behind gates; ticket types open zones, gates guard them."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("venue_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]

    venue: Mapped[Venue] = relationship(back_populates="zones")


class Event(TenantMixin, Base):
    __tablename__ = "events"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    cover_image_url: Mapped[str] = mapped_column(String(1000), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(50), default="", index=True)
    #: Listed on the public pages; defaults from the merchant's ``events_public``.
    public: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    venue: Mapped[Venue] = relationship()
    ticket_types: Mapped[list[TicketType]] = relationship(
        back_populates="event", order_by="TicketType.id"
    )


ticket_type_zones = Table(
    "ticket_type_zones",
    Base.metadata,
    Column(
        "ticket_type_id",
        ForeignKey("ticket_types.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("zone_id", ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class TicketType(TenantMixin, Base):
    """What a visitor buys. ``sold`` counts every ticket held by an order that is not expired,
    rejected or cancelled; it only ever changes by a conditional ``UPDATE`` (see
    :mod:`server.catalog.repository`), so ``sold <= stock`` holds under any concurrency."""

    __tablename__ = "ticket_types"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("(price_fen = 0) = is_free", name="free_means_zero"),
        CheckConstraint("sold >= 0 AND sold <= stock", name="sold_within_stock"),
        CheckConstraint("per_order_limit >= 1", name="per_order_limit_positive"),
        CheckConstraint("entries_allowed >= 0", name="entries_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    is_free: Mapped[bool]
    stock: Mapped[int]
    sold: Mapped[int] = mapped_column(default=0)
    sale_starts_at: Mapped[datetime | None]
    sale_ends_at: Mapped[datetime | None]
    per_order_limit: Mapped[int]
    enabled: Mapped[bool]
    hide_remaining: Mapped[bool]
    needs_visit_date: Mapped[bool]
    #: ``HolderFieldConfig`` as JSON (see :mod:`server.catalog.holders`).
    holder_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    approval_required: Mapped[bool]
    #: Admissions per ticket; 0 means unlimited (the credential's convention).
    entries_allowed: Mapped[int]
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    #: Whether refunded tickets go back on sale (off: a refund releases nothing).
    restock_on_refund: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    event: Mapped[Event] = relationship(back_populates="ticket_types")
    zones: Mapped[list[Zone]] = relationship(secondary=ticket_type_zones, order_by="Zone.id")

    @property
    def zone_ids(self) -> list[int]:
        return [zone.id for zone in self.zones]

    @property
    def remaining(self) -> int:
        return self.stock - self.sold
