"""Every SQL statement about the catalog, including the stock counter's conditional updates.

Merchant-owned reads name their merchant (``scoped_select``/``get_owned``); public reads name the
``public`` flag instead. Writes flush so constraint errors surface in the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, selectinload

from server.catalog.models import Event, TicketType, Venue, Zone
from server.tenancy import get_owned, scoped_select

# --- venues and zones ---------------------------------------------------------------------------


def get_venue(session: Session, merchant_id: int, venue_id: int) -> Venue | None:
    return get_owned(session, Venue, merchant_id, venue_id)


def list_venues(session: Session, merchant_id: int) -> Sequence[Venue]:
    return session.scalars(scoped_select(Venue, merchant_id).order_by(Venue.id)).all()


def venue_slug_taken(session: Session, slug: str, *, except_id: int | None = None) -> bool:
    query = select(Venue.id).where(Venue.slug == slug)
    if except_id is not None:
        query = query.where(Venue.id != except_id)
    return session.scalar(query) is not None


def venue_has_events(session: Session, venue_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Event.venue_id == venue_id))))


def get_zone(session: Session, merchant_id: int, zone_id: int) -> Zone | None:
    return get_owned(session, Zone, merchant_id, zone_id)


def list_zones(session: Session, merchant_id: int, venue_id: int) -> Sequence[Zone]:
    query = scoped_select(Zone, merchant_id).where(Zone.venue_id == venue_id).order_by(Zone.id)
    return session.scalars(query).all()


def zone_name_taken(
    session: Session, venue_id: int, name: str, *, except_id: int | None = None
) -> bool:
    query = select(Zone.id).where(Zone.venue_id == venue_id, Zone.name == name)
    if except_id is not None:
        query = query.where(Zone.id != except_id)
    return session.scalar(query) is not None


def get_zones(session: Session, merchant_id: int, zone_ids: Sequence[int]) -> Sequence[Zone]:
    if not zone_ids:
        return []
    query = scoped_select(Zone, merchant_id).where(Zone.id.in_(zone_ids)).order_by(Zone.id)
    return session.scalars(query).all()


# --- events -------------------------------------------------------------------------------------


def get_event(session: Session, merchant_id: int, event_id: int) -> Event | None:
    return get_owned(session, Event, merchant_id, event_id)


def list_events(session: Session, merchant_id: int) -> Sequence[Event]:
    return session.scalars(scoped_select(Event, merchant_id).order_by(Event.starts_at)).all()


def event_has_ticket_types(session: Session, event_id: int) -> bool:
    return bool(session.scalar(select(exists().where(TicketType.event_id == event_id))))


def list_public_events(
    session: Session, *, now: datetime, category: str | None, limit: int, offset: int
) -> Sequence[Event]:
    """Public events that have not ended, soonest first."""
    query = (
        select(Event)
        .where(Event.public.is_(True), Event.ends_at > now)
        .options(selectinload(Event.venue))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
        .offset(offset)
    )
    if category:
        query = query.where(Event.category == category)
    return session.scalars(query).all()


def get_public_event(session: Session, event_id: int) -> Event | None:
    return session.scalar(select(Event).where(Event.id == event_id, Event.public.is_(True)))


# --- ticket types -------------------------------------------------------------------------------


def get_ticket_type(session: Session, merchant_id: int, ticket_type_id: int) -> TicketType | None:
    return get_owned(session, TicketType, merchant_id, ticket_type_id)


def get_any_ticket_type(session: Session, ticket_type_id: int) -> TicketType | None:
    """A ticket type of any merchant (visitors buy from every merchant; sales checks the rest)."""
    return session.get(TicketType, ticket_type_id)


def list_ticket_types(session: Session, merchant_id: int, event_id: int) -> Sequence[TicketType]:
    query = (
        scoped_select(TicketType, merchant_id)
        .where(TicketType.event_id == event_id)
        .options(selectinload(TicketType.zones))
        .order_by(TicketType.id)
    )
    return session.scalars(query).all()


def list_on_sale_ticket_types(
    session: Session, event_id: int, *, now: datetime
) -> Sequence[TicketType]:
    """Enabled ticket types of an event whose sale window contains ``now``."""
    query = (
        select(TicketType)
        .where(
            TicketType.event_id == event_id,
            TicketType.enabled.is_(True),
            or_(TicketType.sale_starts_at.is_(None), TicketType.sale_starts_at <= now),
            or_(TicketType.sale_ends_at.is_(None), TicketType.sale_ends_at > now),
        )
        .order_by(TicketType.id)
    )
    return session.scalars(query).all()


def add(session: Session, row: Venue | Zone | Event | TicketType) -> None:
    session.add(row)
    session.flush()


def delete(session: Session, row: Venue | Zone | Event | TicketType) -> None:
    session.delete(row)
    session.flush()


# --- stock --------------------------------------------------------------------------------------


def reserve_stock(session: Session, ticket_type_id: int, count: int) -> bool:
    """Take ``count`` tickets off a type's stock if that many remain; False if they don't.

    One conditional ``UPDATE``: the database checks and increments in one step, so concurrent
    buyers can never push ``sold`` past ``stock`` (PostgreSQL re-checks the ``WHERE`` after
    waiting for a concurrent writer's row lock; SQLite runs one writer at a time).
    """
    result = session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type_id, TicketType.sold + count <= TicketType.stock)
        .values(sold=TicketType.sold + count)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def release_stock(session: Session, ticket_type_id: int, count: int) -> None:
    """Give ``count`` reserved tickets back to a type's stock."""
    session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type_id)
        .values(sold=TicketType.sold - count)
        .execution_options(synchronize_session=False)
    )


def _rowcount(result: object) -> int:
    count: int = getattr(result, "rowcount", 0)
    return count
