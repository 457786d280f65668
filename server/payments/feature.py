"""Plugs payments into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.features import Feature
from server.payments.endpoints import callback_router, merchant_router

FEATURE = Feature(name="payments", routers=(callback_router, merchant_router))
