"""HTTP API of the catalog: merchant administration and the public listing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from server.accounts.dependencies import MerchantManager, MerchantMember
from server.catalog import service
from server.catalog.schemas import (
    EventCreate,
    EventOut,
    EventUpdate,
    PublicEventDetail,
    PublicEventOut,
    TicketTypeCreate,
    TicketTypeFields,
    TicketTypeOut,
    VenueCreate,
    VenueOut,
    VenueUpdate,
    ZoneCreate,
    ZoneOut,
)
from server.clock import Now
from server.db import DbSession

merchant_router = APIRouter(prefix="/api/merchant", tags=["catalog"])
public_router = APIRouter(prefix="/api/catalog", tags=["catalog"])

# --- venues and zones ---------------------------------------------------------------------------


@merchant_router.get("/venues")
def list_venues(who: MerchantMember, session: DbSession) -> list[VenueOut]:
    venues = service.list_venues(session, who.merchant_id)
    return [VenueOut.model_validate(venue) for venue in venues]


@merchant_router.post("/venues", status_code=status.HTTP_201_CREATED)
def create_venue(body: VenueCreate, who: MerchantManager, session: DbSession, now: Now) -> VenueOut:
    return VenueOut.model_validate(service.create_venue(session, who.merchant_id, body, now))


@merchant_router.get("/venues/{venue_id}")
def read_venue(venue_id: int, who: MerchantMember, session: DbSession) -> VenueOut:
    return VenueOut.model_validate(service.get_venue(session, who.merchant_id, venue_id))


@merchant_router.patch("/venues/{venue_id}")
def update_venue(
    venue_id: int, body: VenueUpdate, who: MerchantManager, session: DbSession
) -> VenueOut:
    venue = service.update_venue(session, who.merchant_id, venue_id, body)
    return VenueOut.model_validate(venue)


@merchant_router.delete("/venues/{venue_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_venue(venue_id: int, who: MerchantManager, session: DbSession) -> Response:
    service.delete_venue(session, who.merchant_id, venue_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@merchant_router.post("/venues/{venue_id}/zones", status_code=status.HTTP_201_CREATED)
def create_zone(
    venue_id: int, body: ZoneCreate, who: MerchantManager, session: DbSession, now: Now
) -> ZoneOut:
    return ZoneOut.model_validate(
        service.create_zone(session, who.merchant_id, venue_id, body, now)
    )


@merchant_router.get("/zones/{zone_id}")
def read_zone(zone_id: int, who: MerchantMember, session: DbSession) -> ZoneOut:
    return ZoneOut.model_validate(service.get_zone(session, who.merchant_id, zone_id))


@merchant_router.patch("/zones/{zone_id}")
def rename_zone(
    zone_id: int, body: ZoneCreate, who: MerchantManager, session: DbSession
) -> ZoneOut:
    return ZoneOut.model_validate(service.rename_zone(session, who.merchant_id, zone_id, body))


@merchant_router.delete("/zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_zone(zone_id: int, who: MerchantManager, session: DbSession) -> Response:
    service.delete_zone(session, who.merchant_id, zone_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- events -------------------------------------------------------------------------------------


@merchant_router.get("/events")
def list_events(who: MerchantMember, session: DbSession) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in service.list_events(session, who.merchant_id)]


@merchant_router.post("/events", status_code=status.HTTP_201_CREATED)
def create_event(body: EventCreate, who: MerchantManager, session: DbSession, now: Now) -> EventOut:
    return EventOut.model_validate(service.create_event(session, who.merchant_id, body, now))


@merchant_router.get("/events/{event_id}")
def read_event(event_id: int, who: MerchantMember, session: DbSession) -> EventOut:
    return EventOut.model_validate(service.get_event(session, who.merchant_id, event_id))


@merchant_router.patch("/events/{event_id}")
def update_event(
    event_id: int, body: EventUpdate, who: MerchantManager, session: DbSession, now: Now
) -> EventOut:
    event = service.update_event(session, who.merchant_id, event_id, body, now)
    return EventOut.model_validate(event)


@merchant_router.delete("/events/{event_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_event(event_id: int, who: MerchantManager, session: DbSession) -> Response:
    service.delete_event(session, who.merchant_id, event_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- ticket types -------------------------------------------------------------------------------


@merchant_router.get("/events/{event_id}/ticket-types")
def list_ticket_types(
    event_id: int, who: MerchantMember, session: DbSession
) -> list[TicketTypeOut]:
    ticket_types = service.list_ticket_types(session, who.merchant_id, event_id)
    return [TicketTypeOut.model_validate(ticket_type) for ticket_type in ticket_types]


@merchant_router.post("/events/{event_id}/ticket-types", status_code=status.HTTP_201_CREATED)
def create_ticket_type(
    event_id: int, body: TicketTypeCreate, who: MerchantManager, session: DbSession, now: Now
) -> TicketTypeOut:
    ticket_type = service.create_ticket_type(session, who.merchant_id, event_id, body, now)
    return TicketTypeOut.model_validate(ticket_type)


@merchant_router.get("/ticket-types/{ticket_type_id}")
def read_ticket_type(ticket_type_id: int, who: MerchantMember, session: DbSession) -> TicketTypeOut:
    ticket_type = service.get_ticket_type(session, who.merchant_id, ticket_type_id)
    return TicketTypeOut.model_validate(ticket_type)


@merchant_router.patch("/ticket-types/{ticket_type_id}")
def update_ticket_type(
    ticket_type_id: int, body: TicketTypeFields, who: MerchantManager, session: DbSession, now: Now
) -> TicketTypeOut:
    ticket_type = service.update_ticket_type(session, who.merchant_id, ticket_type_id, body, now)
    return TicketTypeOut.model_validate(ticket_type)


@merchant_router.delete("/ticket-types/{ticket_type_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_ticket_type(ticket_type_id: int, who: MerchantManager, session: DbSession) -> Response:
    service.delete_ticket_type(session, who.merchant_id, ticket_type_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- public -------------------------------------------------------------------------------------


@public_router.get("/events")
def list_public_events(
    session: DbSession,
    now: Now,
    category: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PublicEventOut]:
    """Public events that have not ended, soonest first."""
    return service.list_public_events(
        session, now=now, category=category, limit=limit, offset=offset
    )


@public_router.get("/events/{event_id}")
def read_public_event(event_id: int, session: DbSession, now: Now) -> PublicEventDetail:
    """A public event with its ticket types on sale now."""
    return service.public_event_detail(session, event_id, now)
