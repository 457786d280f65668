"""Payment rules: create a payment, accept provider notifications idempotently, record cash,
refund. What a payment pays for is sales' business (it settles its orders when told)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from server.errors import Conflict, Invalid, NotFound
from server.payments import messages as _messages  # noqa: F401  (registers the texts)
from server.payments import repository as repo
from server.payments.models import (
    NotificationOutcome,
    Payment,
    PaymentNotification,
    PaymentStatus,
)
from server.payments.providers import CASH, PaymentProvider, nonce_prune_cutoff

log = logging.getLogger(__name__)

#: Notifications deleted per statement by the nonce sweep (short transactions).
NONCE_PRUNE_BATCH = 1000
#: Notifications whose row is only a nonce: the payment itself records what they did.
_NONCE_ONLY = (
    NotificationOutcome.ACCEPTED,
    NotificationOutcome.DUPLICATE,
    NotificationOutcome.FAILED,
)
#: Refused notifications, kept longer as a record for whoever investigates them.
_AUDITED = (NotificationOutcome.AMOUNT_MISMATCH, NotificationOutcome.UNKNOWN_PAYMENT)


@dataclass(frozen=True)
class NotificationResult:
    """``newly_settled`` is true for exactly one notification per payment."""

    payment: Payment | None
    outcome: NotificationOutcome
    newly_settled: bool


def new_reference(now: datetime) -> str:
    """Our trade number: sortable by day, unguessable (``20250101`` + 24 hex digits)."""
    return now.strftime("%Y%m%d") + secrets.token_hex(12)


def provider_named(providers: dict[str, PaymentProvider], name: str) -> PaymentProvider:
    provider = providers.get(name)
    if provider is None:
        raise Invalid("payments.provider_unknown", provider=name)
    return provider


def get_payment(session: Session, merchant_id: int, payment_id: int) -> Payment:
    payment = repo.get_payment(session, merchant_id, payment_id)
    if payment is None:
        raise NotFound("payments.payment_not_found")
    return payment


def create_payment(
    session: Session,
    *,
    merchant_id: int,
    provider: PaymentProvider,
    amount_fen: int,
    currency: str,
    payer_user_id: int | None,
    now: datetime,
) -> tuple[Payment, dict[str, Any]]:
    """A pending payment and what the payer's client needs to complete it."""
    payment = Payment(
        merchant_id=merchant_id,
        reference=new_reference(now),
        provider=provider.name,
        amount_fen=amount_fen,
        currency=currency,
        status=PaymentStatus.PENDING,
        payer_user_id=payer_user_id,
        refunded_fen=0,
        created_at=now,
    )
    repo.add(session, payment)
    return payment, provider.checkout(payment.reference, amount_fen, currency)


def record_cash_payment(
    session: Session,
    *,
    merchant_id: int,
    amount_fen: int,
    currency: str,
    payer_user_id: int | None,
    staff_user_id: int,
    now: datetime,
) -> Payment:
    """A payment staff took in cash: settled as it is recorded."""
    payment = Payment(
        merchant_id=merchant_id,
        reference=new_reference(now),
        provider=CASH,
        amount_fen=amount_fen,
        currency=currency,
        status=PaymentStatus.SUCCEEDED,
        payer_user_id=payer_user_id,
        recorded_by_user_id=staff_user_id,
        refunded_fen=0,
        created_at=now,
        paid_at=now,
    )
    repo.add(session, payment)
    return payment


def accept_notification(
    session: Session,
    provider: PaymentProvider,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
) -> NotificationResult:
    """Verify and apply one provider notification.

    Forged or stale notifications raise :class:`~server.payments.providers.CallbackRejected`
    and change nothing. A replayed nonce, or another notification of an already-settled
    payment, is answered as success without effect (providers retry until they hear success).
    An amount that differs from the payment's is refused (409) and kept on record.
    """
    notice = provider.verify_notification(headers, body, now)
    payment = repo.get_payment_by_reference(session, notice.reference)
    notification = PaymentNotification(
        provider=provider.name,
        nonce=notice.nonce,
        reference=notice.reference,
        provider_txn_id=notice.provider_txn_id,
        amount_fen=notice.amount_fen,
        outcome=NotificationOutcome.ACCEPTED,
        sent_at=notice.sent_at,
        received_at=now,
    )
    if payment is None or payment.provider != provider.name:
        notification.outcome = NotificationOutcome.UNKNOWN_PAYMENT
        _keep_record_then_raise(session, notification, NotFound("payments.unknown_payment"))
    assert payment is not None
    if notice.amount_fen != payment.amount_fen or notice.currency != payment.currency:
        log.warning(
            "payment notification amount mismatch",
            extra={
                "reference": payment.reference,
                "expected_fen": payment.amount_fen,
                "notified_fen": notice.amount_fen,
                "provider_txn_id": notice.provider_txn_id,
            },
        )
        notification.outcome = NotificationOutcome.AMOUNT_MISMATCH
        _keep_record_then_raise(session, notification, Conflict("payments.amount_mismatch"))
    if not notice.succeeded:
        notification.outcome = NotificationOutcome.FAILED
        if repo.record_notification_once(session, notification):
            repo.mark_failed(session, payment.id)
        return NotificationResult(payment, NotificationOutcome.FAILED, newly_settled=False)
    if not repo.record_notification_once(session, notification):
        return NotificationResult(payment, NotificationOutcome.DUPLICATE, newly_settled=False)
    if repo.settle(session, payment.id, notice.provider_txn_id, now):
        return NotificationResult(payment, NotificationOutcome.ACCEPTED, newly_settled=True)
    notification.outcome = NotificationOutcome.DUPLICATE
    session.flush()
    if payment.provider_txn_id != notice.provider_txn_id:
        log.warning(
            "payment settled by another transaction; this one needs a refund",
            extra={"reference": payment.reference, "provider_txn_id": notice.provider_txn_id},
        )
    return NotificationResult(payment, NotificationOutcome.DUPLICATE, newly_settled=False)


def _keep_record_then_raise(
    session: Session, notification: PaymentNotification, error: Exception
) -> None:
    # The request's transaction rolls back on the error; commit the record of it first.
    if repo.record_notification_once(session, notification):
        session.commit()
    raise error


def refund(
    session: Session, providers: dict[str, PaymentProvider], payment: Payment, amount_fen: int
) -> str:
    """Return part or all of a settled payment through its provider; the provider's refund id."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise Conflict("payments.not_settled")
    if not repo.add_refunded(session, payment.id, amount_fen):
        raise Conflict("payments.refund_exceeds_payment")
    session.refresh(payment)
    provider = provider_named(providers, payment.provider)
    return provider.refund(payment.reference, payment.provider_txn_id, amount_fen)


def prune_notifications(
    session: Session,
    now: datetime,
    *,
    audit_retention: timedelta,
    limit: int = NONCE_PRUNE_BATCH,
) -> int:
    """Forget up to ``limit`` stored notifications whose nonces can no longer be replayed;
    how many went.

    A nonce is kept until its notification's signed timestamp is past
    :func:`~server.payments.providers.nonce_prune_cutoff`; from then on a replay is refused by
    the timestamp check before the nonce is looked up, so forgetting it weakens nothing.
    Refused notifications (amount mismatch, unknown payment) stay for ``audit_retention`` too,
    and never less than the nonce retention. Safe on several instances at once (each row is
    deleted once; a second sweep finds nothing).
    """
    cutoff = nonce_prune_cutoff(now)
    pruned = repo.delete_notifications(
        session, sent_before=cutoff, outcomes=_NONCE_ONLY, limit=limit
    )
    if pruned < limit:
        pruned += repo.delete_notifications(
            session,
            sent_before=min(cutoff, now - audit_retention),
            outcomes=_AUDITED,
            limit=limit - pruned,
        )
    return pruned
