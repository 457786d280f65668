"""Plugs the fleet into the app (see :mod:`server.features`) and connects its list receivers
to the ticket signals."""

from __future__ import annotations

from server.features import Feature
from server.fleet.endpoints import router
from server.fleet.lists import connect_receivers
from server.fleet.runtime import fleet_service

connect_receivers()

FEATURE = Feature(name="fleet", routers=(router,), services=(fleet_service,))
