"""HTTP API of payments: provider callbacks and staff recording cash."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from server.accounts.dependencies import MerchantChecker, MerchantMember
from server.clock import Now
from server.db import DbSession
from server.payments import service
from server.payments.dependencies import Providers
from server.payments.providers import SANDBOX
from server.payments.schemas import CashPayment, CashPaymentOut, NotificationAck, PaymentOut
from server.sales import service as sales

callback_router = APIRouter(prefix="/api/payments", tags=["payments"])
merchant_router = APIRouter(prefix="/api/merchant/payments", tags=["payments"])


async def raw_body(request: Request) -> bytes:
    """The request body exactly as sent (signatures cover the bytes, not the parsed JSON)."""
    return await request.body()


@callback_router.post("/sandbox/notify")
def sandbox_notification(
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    session: DbSession,
    now: Now,
    providers: Providers,
) -> NotificationAck:
    """The sandbox provider's signed payment notification (WeChat Pay v3 style headers).

    Forged or stale: 400. Amount differs from the payment: 409 (recorded). Repeated: 200 and no
    effect. A payment settles its orders exactly once, here, in this transaction.
    """
    headers = dict(request.headers)
    result = service.accept_notification(session, providers[SANDBOX], headers, body, now)
    if result.newly_settled and result.payment is not None:
        sales.settle_payment(session, result.payment, providers, now)
    return NotificationAck(outcome=result.outcome)


@merchant_router.post("/cash", status_code=status.HTTP_201_CREATED)
def record_cash(
    body: CashPayment, who: MerchantChecker, session: DbSession, now: Now
) -> CashPaymentOut:
    """Staff took cash for these unpaid orders of their merchant: they are paid, tickets issued."""
    payment, orders = sales.pay_in_cash(
        session, who.merchant_id, body.order_ids, staff_user_id=who.user_id, now=now
    )
    return CashPaymentOut(
        **PaymentOut.model_validate(payment).model_dump(), order_ids=[o.id for o in orders]
    )


@merchant_router.get("/{payment_id}")
def read_payment(payment_id: int, who: MerchantMember, session: DbSession) -> PaymentOut:
    return PaymentOut.model_validate(service.get_payment(session, who.merchant_id, payment_id))
