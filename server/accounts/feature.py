"""Plugs accounts into the app (see :mod:`server.features`)."""

from __future__ import annotations

from server.accounts.endpoints import (
    admin_router,
    applications_router,
    auth_router,
    merchant_router,
)
from server.features import Feature

FEATURE = Feature(
    name="accounts",
    routers=(auth_router, admin_router, applications_router, merchant_router),
)
