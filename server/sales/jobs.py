"""The sales feature's periodic work: giving back the stock of open orders past their time
(unpaid past the payment deadline, or undecided past the approval deadline)."""

from __future__ import annotations

import logging
from datetime import datetime

from server.features import PeriodicJob, ServerContext
from server.sales import service
from server.sales.settings import get_sales_settings

log = logging.getLogger(__name__)


def expire_unpaid_orders(context: ServerContext, now: datetime) -> None:
    """One sweep; safe on several server instances at once (conditional status updates)."""
    with context.database.sessions.begin() as session:
        expired = service.expire_orders(session, now)
    if expired:
        log.info("expired open orders", extra={"expired": expired})


EXPIRE_UNPAID_ORDERS = PeriodicJob(
    name="sales.expire_unpaid_orders",
    interval=get_sales_settings().order_expiry_interval,
    run=expire_unpaid_orders,
)
