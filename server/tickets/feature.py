"""Plugs tickets into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.features import Feature
from server.tickets.endpoints import merchant_router, visitor_router

FEATURE = Feature(name="tickets", routers=(visitor_router, merchant_router))
