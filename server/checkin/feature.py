"""Plugs check-in into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.checkin.endpoints import backoffice_router, router
from server.features import Feature

FEATURE = Feature(name="checkin", routers=(router, backoffice_router))
