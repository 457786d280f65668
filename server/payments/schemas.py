"""Request and response bodies of the payments API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.payments.models import NotificationOutcome, PaymentStatus


class NotificationAck(BaseModel):
    """The answer a provider expects; ``SUCCESS`` stops its retries."""

    code: str = "SUCCESS"
    outcome: NotificationOutcome


class CashPayment(BaseModel):
    order_ids: list[int] = Field(min_length=1, max_length=50)


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    provider: str
    amount_fen: int
    currency: str
    status: PaymentStatus
    refunded_fen: int
    created_at: datetime
    paid_at: datetime | None


class CashPaymentOut(PaymentOut):
    order_ids: list[int]
