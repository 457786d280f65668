"""Plugs payments into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.features import Feature
from server.payments.endpoints import callback_router, merchant_router
from server.payments.jobs import PRUNE_NOTIFICATION_NONCES

FEATURE = Feature(
    name="payments",
    routers=(callback_router, merchant_router),
    periodic_jobs=(PRUNE_NOTIFICATION_NONCES,),
)
