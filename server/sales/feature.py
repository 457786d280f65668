"""Plugs sales into the app (see :mod:`server.features`), its periodic jobs (order expiry, the
refund-request sweep) and its receiver of the ticket signals (pending refund requests follow
revoked tickets)."""

from __future__ import annotations

from server.features import Feature
from server.sales.endpoints import merchant_router, visitor_router
from server.sales.jobs import EXPIRE_UNPAID_ORDERS, FOLLOW_REFUND_REQUESTS
from server.sales.service import connect_receivers

connect_receivers()

FEATURE = Feature(
    name="sales",
    routers=(visitor_router, merchant_router),
    periodic_jobs=(EXPIRE_UNPAID_ORDERS, FOLLOW_REFUND_REQUESTS),
)
