"""Request and response bodies of the catalog API. Money is integer fen plus a currency code."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from server.catalog.holders import HolderFieldConfig

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class VenueCreate(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN, description="The site id in MQTT topics")
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=500)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)


class VenueUpdate(BaseModel):
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    timezone: str | None = Field(default=None, max_length=64)


class ZoneCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ZoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    venue_id: int
    name: str


class VenueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    address: str
    timezone: str
    zones: list[ZoneOut]


class EventCreate(BaseModel):
    venue_id: int
    name: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    cover_image_url: str = Field(default="", max_length=1000)
    description: str = Field(default="", max_length=20000)
    category: str = Field(default="", max_length=50)
    public: bool | None = Field(
        default=None, description="Omitted: the merchant's 'events public by default' setting"
    )


class EventUpdate(BaseModel):
    venue_id: int | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    cover_image_url: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20000)
    category: str | None = Field(default=None, max_length=50)
    public: bool | None = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    venue_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    cover_image_url: str
    description: str
    category: str
    public: bool


class TicketTypeFields(BaseModel):
    """Every setting of a ticket type; all optional so PATCH can send any subset."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    price_fen: int | None = Field(default=None, ge=0, description="Price in fen (1 yuan = 100)")
    currency: str | None = Field(default=None, pattern=CURRENCY_PATTERN)
    is_free: bool | None = Field(default=None, description="Must agree with price_fen == 0")
    stock: int | None = Field(default=None, ge=0)
    sale_starts_at: AwareDatetime | None = None
    sale_ends_at: AwareDatetime | None = None
    per_order_limit: int | None = Field(default=None, ge=1, le=100)
    enabled: bool | None = None
    hide_remaining: bool | None = None
    needs_visit_date: bool | None = None
    holder_fields: HolderFieldConfig | None = None
    approval_required: bool | None = None
    entries_allowed: int | None = Field(default=None, ge=0, description="0 means unlimited")
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    restock_on_refund: bool | None = None
    zone_ids: list[int] | None = Field(default=None, description="Zones of the event's venue")


class TicketTypeCreate(TicketTypeFields):
    name: str = Field(min_length=1, max_length=200)
    price_fen: int = Field(ge=0, description="Price in fen (1 yuan = 100)")
    stock: int = Field(ge=0)


class TicketTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    name: str
    description: str
    price_fen: int
    currency: str
    is_free: bool
    stock: int
    sold: int
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    per_order_limit: int
    enabled: bool
    hide_remaining: bool
    needs_visit_date: bool
    holder_fields: HolderFieldConfig
    approval_required: bool
    entries_allowed: int
    valid_from: datetime | None
    valid_until: datetime | None
    restock_on_refund: bool
    zone_ids: list[int]


class PublicTicketTypeOut(BaseModel):
    id: int
    name: str
    description: str
    price_fen: int
    currency: str
    is_free: bool
    sale_ends_at: datetime | None
    per_order_limit: int
    needs_visit_date: bool
    holder_fields: HolderFieldConfig
    approval_required: bool
    sold_out: bool
    remaining: int | None = Field(description="null when the merchant hides remaining stock")


class PublicVenueOut(BaseModel):
    name: str
    address: str
    timezone: str


class PublicEventOut(BaseModel):
    id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    cover_image_url: str
    description: str
    category: str
    venue: PublicVenueOut


class PublicEventDetail(PublicEventOut):
    ticket_types: list[PublicTicketTypeOut]
