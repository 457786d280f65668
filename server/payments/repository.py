"""Every SQL statement about payments. Settling is a conditional ``UPDATE`` so one payment is
settled once however many notifications race."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.payments.models import (
    NotificationOutcome,
    Payment,
    PaymentNotification,
    PaymentStatus,
)
from server.tenancy import get_owned


def add(session: Session, row: Payment | PaymentNotification) -> None:
    session.add(row)
    session.flush()


def get_payment(session: Session, merchant_id: int, payment_id: int) -> Payment | None:
    return get_owned(session, Payment, merchant_id, payment_id)


def get_payment_by_reference(session: Session, reference: str) -> Payment | None:
    """Any merchant's payment (provider callbacks name only our trade number)."""
    return session.scalar(select(Payment).where(Payment.reference == reference))


def record_notification_once(session: Session, notification: PaymentNotification) -> bool:
    """Store a notification; False if its nonce was seen before (a replay)."""
    try:
        with session.begin_nested():
            session.add(notification)
            session.flush()
    except IntegrityError:
        return False
    return True


def settle(session: Session, payment_id: int, provider_txn_id: str | None, now: datetime) -> bool:
    """Mark a pending payment succeeded; False if it was not pending (settled already)."""
    result = session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
        .values(status=PaymentStatus.SUCCEEDED, provider_txn_id=provider_txn_id, paid_at=now)
        .execution_options(synchronize_session=False)
    )
    settled: bool = getattr(result, "rowcount", 0) == 1
    if settled:
        session.refresh(session.get_one(Payment, payment_id))
    return settled


def mark_failed(session: Session, payment_id: int) -> None:
    session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
        .values(status=PaymentStatus.FAILED)
        .execution_options(synchronize_session=False)
    )


def add_refunded(session: Session, payment_id: int, amount_fen: int) -> bool:
    """Count a refund against a payment unless it would exceed the amount paid."""
    result = session.execute(
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.refunded_fen + amount_fen <= Payment.amount_fen,
        )
        .values(refunded_fen=Payment.refunded_fen + amount_fen)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def delete_notifications(
    session: Session,
    *,
    sent_before: datetime,
    outcomes: Collection[NotificationOutcome],
    limit: int,
) -> int:
    """Delete up to ``limit`` notifications with these outcomes signed before ``sent_before``
    (oldest first); how many went."""
    oldest = (
        select(PaymentNotification.id)
        .where(
            PaymentNotification.sent_at < sent_before,
            PaymentNotification.outcome.in_(list(outcomes)),
        )
        .order_by(PaymentNotification.sent_at, PaymentNotification.id)
        .limit(limit)
    )
    # A derived table: PostgreSQL and SQLite both take LIMIT inside it.
    ids = select(oldest.subquery().c.id)
    result = session.execute(
        delete(PaymentNotification)
        .where(PaymentNotification.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
