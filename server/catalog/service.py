"""Catalog rules: venues, zones, events and ticket types of one merchant, and the public listing.

Every function of the merchant side takes ``merchant_id`` and answers 404 for another
merchant's objects. Times come in as ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from server.accounts import repository as accounts_repo
from server.catalog import messages as _messages  # noqa: F401  (registers the texts)
from server.catalog import repository as repo
from server.catalog.holders import HolderFieldConfig
from server.catalog.models import Event, TicketType, Venue, Zone
from server.catalog.schemas import (
    EventCreate,
    EventUpdate,
    PublicEventDetail,
    PublicEventOut,
    PublicTicketTypeOut,
    PublicVenueOut,
    TicketTypeCreate,
    TicketTypeFields,
    VenueCreate,
    VenueUpdate,
    ZoneCreate,
)
from server.errors import Conflict, Invalid, NotFound

DEFAULT_CURRENCY = "CNY"
DEFAULT_PER_ORDER_LIMIT = 10
DEFAULT_ENTRIES_ALLOWED = 1

# --- venues and zones ---------------------------------------------------------------------------


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("catalog.timezone_invalid", timezone=name) from exc


def get_venue(session: Session, merchant_id: int, venue_id: int) -> Venue:
    venue = repo.get_venue(session, merchant_id, venue_id)
    if venue is None:
        raise NotFound("catalog.venue_not_found")
    return venue


def create_venue(session: Session, merchant_id: int, data: VenueCreate, now: datetime) -> Venue:
    _check_timezone(data.timezone)
    if repo.venue_slug_taken(session, data.slug):
        raise Conflict("catalog.venue_slug_taken", slug=data.slug)
    venue = Venue(merchant_id=merchant_id, created_at=now, **data.model_dump())
    repo.add(session, venue)
    return venue


def update_venue(session: Session, merchant_id: int, venue_id: int, data: VenueUpdate) -> Venue:
    venue = get_venue(session, merchant_id, venue_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    if "slug" in changes and repo.venue_slug_taken(session, changes["slug"], except_id=venue.id):
        raise Conflict("catalog.venue_slug_taken", slug=changes["slug"])
    for name, value in changes.items():
        setattr(venue, name, value)
    session.flush()
    return venue


def delete_venue(session: Session, merchant_id: int, venue_id: int) -> None:
    venue = get_venue(session, merchant_id, venue_id)
    if repo.venue_has_events(session, venue.id):
        raise Conflict("catalog.venue_in_use")
    repo.delete(session, venue)


def list_venues(session: Session, merchant_id: int) -> Sequence[Venue]:
    return repo.list_venues(session, merchant_id)


def get_zone(session: Session, merchant_id: int, zone_id: int) -> Zone:
    zone = repo.get_zone(session, merchant_id, zone_id)
    if zone is None:
        raise NotFound("catalog.zone_not_found")
    return zone


def create_zone(
    session: Session, merchant_id: int, venue_id: int, data: ZoneCreate, now: datetime
) -> Zone:
    venue = get_venue(session, merchant_id, venue_id)
    if repo.zone_name_taken(session, venue.id, data.name):
        raise Conflict("catalog.zone_name_taken")
    zone = Zone(merchant_id=merchant_id, venue_id=venue.id, name=data.name, created_at=now)
    repo.add(session, zone)
    return zone


def rename_zone(session: Session, merchant_id: int, zone_id: int, data: ZoneCreate) -> Zone:
    zone = get_zone(session, merchant_id, zone_id)
    if repo.zone_name_taken(session, zone.venue_id, data.name, except_id=zone.id):
        raise Conflict("catalog.zone_name_taken")
    zone.name = data.name
    session.flush()
    return zone


def delete_zone(session: Session, merchant_id: int, zone_id: int) -> None:
    repo.delete(session, get_zone(session, merchant_id, zone_id))


# --- events -------------------------------------------------------------------------------------


def get_event(session: Session, merchant_id: int, event_id: int) -> Event:
    event = repo.get_event(session, merchant_id, event_id)
    if event is None:
        raise NotFound("catalog.event_not_found")
    return event


def create_event(session: Session, merchant_id: int, data: EventCreate, now: datetime) -> Event:
    venue = get_venue(session, merchant_id, data.venue_id)
    if data.ends_at <= data.starts_at:
        raise Invalid("catalog.event_times_invalid")
    public = data.public
    if public is None:
        merchant = accounts_repo.get_merchant(session, merchant_id)
        public = bool(merchant and merchant.events_public)
    event = Event(
        merchant_id=merchant_id,
        venue_id=venue.id,
        name=data.name,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        cover_image_url=data.cover_image_url,
        description=data.description,
        category=data.category,
        public=public,
        created_at=now,
        updated_at=now,
    )
    repo.add(session, event)
    return event


def update_event(
    session: Session, merchant_id: int, event_id: int, data: EventUpdate, now: datetime
) -> Event:
    event = get_event(session, merchant_id, event_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "venue_id" in changes:
        get_venue(session, merchant_id, changes["venue_id"])
    starts_at = changes.get("starts_at", event.starts_at)
    ends_at = changes.get("ends_at", event.ends_at)
    if ends_at <= starts_at:
        raise Invalid("catalog.event_times_invalid")
    for name, value in changes.items():
        setattr(event, name, value)
    event.updated_at = now
    session.flush()
    return event


def delete_event(session: Session, merchant_id: int, event_id: int) -> None:
    event = get_event(session, merchant_id, event_id)
    if repo.event_has_ticket_types(session, event.id):
        raise Conflict("catalog.event_in_use")
    repo.delete(session, event)


def list_events(session: Session, merchant_id: int) -> Sequence[Event]:
    return repo.list_events(session, merchant_id)


# --- ticket types -------------------------------------------------------------------------------


def get_ticket_type(session: Session, merchant_id: int, ticket_type_id: int) -> TicketType:
    ticket_type = repo.get_ticket_type(session, merchant_id, ticket_type_id)
    if ticket_type is None:
        raise NotFound("catalog.ticket_type_not_found")
    return ticket_type


def list_ticket_types(session: Session, merchant_id: int, event_id: int) -> Sequence[TicketType]:
    event = get_event(session, merchant_id, event_id)
    return repo.list_ticket_types(session, merchant_id, event.id)


def _check_ticket_type(ticket_type: TicketType) -> None:
    """The rules that span several fields, checked on the merged result of a create or edit."""
    if ticket_type.is_free != (ticket_type.price_fen == 0):
        raise Invalid("catalog.price_free_mismatch")
    if ticket_type.stock < ticket_type.sold:
        raise Conflict("catalog.stock_below_sold", sold=ticket_type.sold)
    starts, ends = ticket_type.sale_starts_at, ticket_type.sale_ends_at
    if starts is not None and ends is not None and ends <= starts:
        raise Invalid("catalog.sale_window_invalid")
    valid_from, valid_until = ticket_type.valid_from, ticket_type.valid_until
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise Invalid("catalog.validity_invalid")


def _zones_of_venue(
    session: Session, merchant_id: int, venue_id: int, zone_ids: Sequence[int]
) -> list[Zone]:
    zones = list(repo.get_zones(session, merchant_id, sorted(set(zone_ids))))
    if len(zones) != len(set(zone_ids)) or any(zone.venue_id != venue_id for zone in zones):
        raise Invalid("catalog.zone_wrong_venue", detail={"zone_ids": list(zone_ids)})
    return zones


def _apply(
    session: Session, ticket_type: TicketType, changes: dict[str, Any], venue_id: int
) -> None:
    zone_ids = changes.pop("zone_ids", None)
    holder_fields = changes.pop("holder_fields", None)
    for name, value in changes.items():
        setattr(ticket_type, name, value)
    if holder_fields is not None:
        ticket_type.holder_fields = HolderFieldConfig.model_validate(holder_fields).model_dump(
            mode="json"
        )
    if zone_ids is not None:
        ticket_type.zones = _zones_of_venue(session, ticket_type.merchant_id, venue_id, zone_ids)
    _check_ticket_type(ticket_type)


def create_ticket_type(
    session: Session, merchant_id: int, event_id: int, data: TicketTypeCreate, now: datetime
) -> TicketType:
    event = get_event(session, merchant_id, event_id)
    ticket_type = TicketType(
        merchant_id=merchant_id,
        event_id=event.id,
        description="",
        currency=DEFAULT_CURRENCY,
        is_free=data.price_fen == 0,
        sold=0,
        per_order_limit=DEFAULT_PER_ORDER_LIMIT,
        enabled=True,
        hide_remaining=False,
        needs_visit_date=False,
        holder_fields=HolderFieldConfig().model_dump(mode="json"),
        approval_required=False,
        entries_allowed=DEFAULT_ENTRIES_ALLOWED,
        restock_on_refund=False,
        created_at=now,
        updated_at=now,
    )
    changes = data.model_dump(exclude_unset=True)
    changes = {key: value for key, value in changes.items() if value is not None}
    _apply(session, ticket_type, changes, event.venue_id)
    repo.add(session, ticket_type)
    return ticket_type


def update_ticket_type(
    session: Session,
    merchant_id: int,
    ticket_type_id: int,
    data: TicketTypeFields,
    now: datetime,
) -> TicketType:
    """Change a ticket type. Fields sent as null clear the optional ones (windows, validity)."""
    ticket_type = get_ticket_type(session, merchant_id, ticket_type_id)
    changes = data.model_dump(exclude_unset=True)
    clearable = {"sale_starts_at", "sale_ends_at", "valid_from", "valid_until"}
    changes = {k: v for k, v in changes.items() if v is not None or k in clearable}
    if "price_fen" in changes and "is_free" not in changes:
        changes["is_free"] = changes["price_fen"] == 0
    _apply(session, ticket_type, changes, ticket_type.event.venue_id)
    ticket_type.updated_at = now
    session.flush()
    return ticket_type


def delete_ticket_type(session: Session, merchant_id: int, ticket_type_id: int) -> None:
    ticket_type = get_ticket_type(session, merchant_id, ticket_type_id)
    if ticket_type.sold > 0:
        raise Conflict("catalog.ticket_type_in_use")
    repo.delete(session, ticket_type)


def is_on_sale(ticket_type: TicketType, now: datetime) -> bool:
    """Enabled and inside its sale window (stock is checked when reserving)."""
    if not ticket_type.enabled:
        return False
    if ticket_type.sale_starts_at is not None and now < ticket_type.sale_starts_at:
        return False
    return ticket_type.sale_ends_at is None or now < ticket_type.sale_ends_at


# --- public listing ------------------------------------------------------------------------------


def _public_event(event: Event) -> PublicEventOut:
    return PublicEventOut(
        id=event.id,
        name=event.name,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        cover_image_url=event.cover_image_url,
        description=event.description,
        category=event.category,
        venue=PublicVenueOut(
            name=event.venue.name, address=event.venue.address, timezone=event.venue.timezone
        ),
    )


def public_ticket_type(ticket_type: TicketType) -> PublicTicketTypeOut:
    """A ticket type as visitors see it: remaining stock only when the merchant shows it."""
    return PublicTicketTypeOut(
        id=ticket_type.id,
        name=ticket_type.name,
        description=ticket_type.description,
        price_fen=ticket_type.price_fen,
        currency=ticket_type.currency,
        is_free=ticket_type.is_free,
        sale_ends_at=ticket_type.sale_ends_at,
        per_order_limit=ticket_type.per_order_limit,
        needs_visit_date=ticket_type.needs_visit_date,
        holder_fields=HolderFieldConfig.model_validate(ticket_type.holder_fields),
        approval_required=ticket_type.approval_required,
        sold_out=ticket_type.remaining <= 0,
        remaining=None if ticket_type.hide_remaining else ticket_type.remaining,
    )


def list_public_events(
    session: Session, *, now: datetime, category: str | None, limit: int, offset: int
) -> list[PublicEventOut]:
    events = repo.list_public_events(
        session, now=now, category=category, limit=limit, offset=offset
    )
    return [_public_event(event) for event in events]


def public_event_detail(session: Session, event_id: int, now: datetime) -> PublicEventDetail:
    event = repo.get_public_event(session, event_id)
    if event is None:
        raise NotFound("catalog.event_not_found")
    ticket_types = repo.list_on_sale_ticket_types(session, event.id, now=now)
    return PublicEventDetail(
        **_public_event(event).model_dump(),
        ticket_types=[public_ticket_type(ticket_type) for ticket_type in ticket_types],
    )
