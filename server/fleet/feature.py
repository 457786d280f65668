"""Plugs the fleet into the app (see :mod:`server.features`) and connects its receivers: list
changes to the ticket signals, staff check-ins to the gates' gossip."""

from __future__ import annotations

from server.features import Feature
from server.fleet import lists, staff_admissions
from server.fleet.endpoints import router
from server.fleet.runtime import fleet_service

lists.connect_receivers()
staff_admissions.connect_receivers()

FEATURE = Feature(name="fleet", routers=(router,), services=(fleet_service,))
