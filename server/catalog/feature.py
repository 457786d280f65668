"""Plugs the catalog into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.catalog.endpoints import merchant_router, public_router
from server.features import Feature

FEATURE = Feature(name="catalog", routers=(merchant_router, public_router))
