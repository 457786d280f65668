"""FastAPI dependencies for the fleet: its settings, the running bridge, the live feed, and
HTTP Basic authentication of kiosks by their broker credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from server.db import AppDatabase, DatabaseTurn
from server.errors import Unauthorized, Unavailable
from server.fleet.bridge import FleetBridge
from server.fleet.live import LiveFeed
from server.fleet.service import authenticate_kiosk
from server.fleet.settings import FleetSettings, get_fleet_settings

_basic = HTTPBasic(auto_error=False, description="The kiosk's MQTT username and password")


class KioskUnauthorized(Unauthorized):
    """A kiosk's HTTP Basic login failed: the challenge names Basic, not the staff's Bearer."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="admit-kiosk"'}


def fleet_settings_of(request: Request) -> FleetSettings:
    settings: FleetSettings | None = getattr(request.app.state, "fleet_settings", None)
    return settings or get_fleet_settings()


def bridge_or_none(request: Request) -> FleetBridge | None:
    bridge: FleetBridge | None = getattr(request.app.state, "fleet_bridge", None)
    return bridge


def running_bridge(request: Request) -> FleetBridge:
    bridge = bridge_or_none(request)
    if bridge is None:
        raise Unavailable("fleet.bridge_not_running")
    return bridge


def live_feed(request: Request) -> LiveFeed:
    feed: LiveFeed | None = getattr(request.app.state, "fleet_feed", None)
    if feed is None:
        feed = LiveFeed()
        request.app.state.fleet_feed = feed
    return feed


@dataclass(frozen=True)
class KioskLogin:
    """The enrolled gate a kiosk request authenticated as (plain values: the read that found
    it has ended by the time the endpoint runs)."""

    gate_id: int
    merchant_id: int
    venue_id: int
    #: The venue's slug: the gate's MQTT site id.
    site: str
    #: The gate's key: its MQTT gate id.
    gate: str


def current_kiosk(
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    database: AppDatabase,
    _turn: DatabaseTurn,
) -> KioskLogin:
    """Authenticate in a short read of its own (the database-turn rule of docs/server.md), so
    the endpoint's own transaction begins in the endpoint."""
    if credentials is None:
        raise KioskUnauthorized("fleet.kiosk_credentials_invalid")
    with database.read() as session:
        try:
            gate = authenticate_kiosk(session, credentials.username, credentials.password)
        except Unauthorized as refused:
            raise KioskUnauthorized(refused.code) from None
        return KioskLogin(gate.id, gate.merchant_id, gate.venue_id, gate.venue.slug, gate.key)


AppFleetSettings = Annotated[FleetSettings, Depends(fleet_settings_of)]
OptionalBridge = Annotated[FleetBridge | None, Depends(bridge_or_none)]
RunningBridge = Annotated[FleetBridge, Depends(running_bridge)]
AppLiveFeed = Annotated[LiveFeed, Depends(live_feed)]
Kiosk = Annotated[KioskLogin, Depends(current_kiosk)]
