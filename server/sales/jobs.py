"""The sales feature's periodic work: giving back the stock of open orders past their time
(unpaid past the payment deadline, or undecided past the approval deadline), and closing or
narrowing pending refund requests whose tickets were used since the visitor asked."""

from __future__ import annotations

import logging
from datetime import datetime

from server.features import PeriodicJob, ServerContext
from server.sales import service
from server.sales.settings import get_sales_settings

log = logging.getLogger(__name__)

#: Pending refund requests read per page, and followed per write transaction, by the sweep.
REFUND_REQUEST_SWEEP_BATCH = 200


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


def sweep_refund_requests(
    context: ServerContext, now: datetime, batch: int = REFUND_REQUEST_SWEEP_BATCH
) -> service.SweepCounts:
    """One sweep of the pending refund requests, a page at a time: each page is read in a read
    transaction (on SQLite no write lock while nothing needs changing, the usual case), and
    the requests of it that name a ticket no longer refundable are followed
    (:func:`server.sales.service.follow_refund_request`) in one write transaction. A check-in
    tells sales nothing, so this is what keeps requests whose tickets were all used from
    sitting in the manager's queue. Safe on several server instances at once (each request is
    followed under its row lock, read afresh)."""
    closed = narrowed = 0
    after_id: int | None = 0
    while after_id is not None:
        with context.database.read() as session:
            page = service.refund_requests_to_follow(session, after_id=after_id, limit=batch)
        if page.to_follow:
            with context.database.sessions.begin() as session:
                counts = service.follow_refund_requests(session, page.to_follow, now)
            closed += counts.closed
            narrowed += counts.narrowed
        after_id = page.next_after
    if closed or narrowed:
        log.info("followed refund requests", extra={"closed": closed, "narrowed": narrowed})
    return service.SweepCounts(closed, narrowed)


def _sweep_refund_requests(context: ServerContext, now: datetime) -> None:
    sweep_refund_requests(context, now)


FOLLOW_REFUND_REQUESTS = PeriodicJob(
    name="sales.follow_refund_requests",
    interval=get_sales_settings().refund_request_sweep_interval,
    run=_sweep_refund_requests,
)
