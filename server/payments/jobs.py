"""The payments feature's periodic work: forgetting callback nonces that can no longer be
replayed, so ``payment_notifications`` does not grow without bound."""

from __future__ import annotations

import logging
from datetime import datetime

from server.features import PeriodicJob, ServerContext
from server.payments import service
from server.payments.settings import get_payments_settings

log = logging.getLogger(__name__)

#: Batches one run deletes at most; the rest waits for the next run (bounded work per run).
MAX_BATCHES_PER_RUN = 100


def prune_notification_nonces(context: ServerContext, now: datetime) -> None:
    """One sweep, a short transaction per batch; safe on several server instances at once."""
    retention = get_payments_settings().payment_notification_audit_retention
    pruned = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with context.database.sessions.begin() as session:
            batch = service.prune_notifications(session, now, audit_retention=retention)
        pruned += batch
        if batch < service.NONCE_PRUNE_BATCH:
            break
    if pruned:
        log.info("pruned payment notification nonces", extra={"pruned": pruned})


PRUNE_NOTIFICATION_NONCES = PeriodicJob(
    name="payments.prune_notification_nonces",
    interval=get_payments_settings().payment_nonce_prune_interval,
    run=prune_notification_nonces,
)
