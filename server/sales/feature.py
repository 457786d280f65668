"""Plugs sales into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.features import Feature
from server.sales.endpoints import merchant_router, visitor_router
from server.sales.jobs import EXPIRE_UNPAID_ORDERS

FEATURE = Feature(
    name="sales",
    routers=(visitor_router, merchant_router),
    periodic_jobs=(EXPIRE_UNPAID_ORDERS,),
)
