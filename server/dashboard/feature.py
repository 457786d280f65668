"""Plugs the live gate dashboard into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.dashboard.endpoints import api_router, page_router
from server.features import Feature

FEATURE = Feature(name="dashboard", routers=(page_router, api_router))
