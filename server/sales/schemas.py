"""Request and response bodies of the sales API. Clients never send prices."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.sales.models import (
    CloseReason,
    ItemStatus,
    OrderStatus,
    RefundBlock,
    RefundRequestStatus,
)


class TicketIn(BaseModel):
    """One ticket: its type and its holder (which fields are needed depends on the type)."""

    model_config = ConfigDict(extra="forbid")

    ticket_type_id: int
    holder_name: str | None = Field(default=None, max_length=200)
    holder_phone: str | None = Field(default=None, max_length=32)
    holder_fields: dict[str, Any] = Field(default_factory=dict, max_length=20)
    visit_date: date | None = None


class BuyNow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tickets: list[TicketIn] = Field(min_length=1, max_length=100)


class CartItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_type_id: int
    ticket_type_name: str
    price_fen: int
    currency: str
    holder_name: str | None
    holder_phone: str | None
    holder_fields: dict[str, str]
    visit_date: date | None


class OrderItemOut(BaseModel):
    id: int
    ticket_type_id: int
    ticket_type_name: str
    event_id: int
    price_fen: int
    holder_name: str | None
    holder_phone: str | None
    holder_fields: dict[str, str]
    visit_date: date | None
    status: ItemStatus


class OrderOut(BaseModel):
    id: int
    merchant_id: int
    visitor_user_id: int | None
    status: OrderStatus
    total_fen: int
    refunded_fen: int
    currency: str
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    decided_at: datetime | None
    decision_note: str
    close_reason: CloseReason | None = Field(
        default=None, description="Why an unpaid order was closed (expired, rejected, cancelled)"
    )
    close_message: str | None = Field(
        default=None, description="``close_reason`` in the request's language"
    )
    items: list[OrderItemOut]


class PayOrders(BaseModel):
    """Pay several unpaid orders of one merchant in one payment."""

    order_ids: list[int] = Field(min_length=1, max_length=50)
    provider: str = Field(description="'sandbox' (online) or another configured provider")


class PaymentStarted(BaseModel):
    payment_id: int
    reference: str
    provider: str
    amount_fen: int
    currency: str
    checkout: dict[str, Any] = Field(description="What the client needs to complete the payment")


class Decision(BaseModel):
    note: str = Field(default="", max_length=500)


class RefundIn(BaseModel):
    item_ids: list[int] | None = Field(
        default=None, description="Order items to refund; omitted: every ticket of the order"
    )
    reason: str = Field(min_length=1, max_length=500)


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    amount_fen: int
    item_ids: list[int]
    reason: str
    provider_refund_id: str | None
    created_at: datetime


class RefundRequestIn(BaseModel):
    """A visitor asks for tickets of their paid order back."""

    model_config = ConfigDict(extra="forbid")

    item_ids: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Order items to refund; omitted: every ticket that may still be refunded",
    )
    reason: str = Field(min_length=1, max_length=500)


class RefundRequestOut(BaseModel):
    id: int
    order_id: int
    merchant_id: int
    status: RefundRequestStatus
    status_message: str = Field(description="``status`` in the request's language")
    item_ids: list[int]
    amount_fen: int
    currency: str
    reason: str
    created_at: datetime
    decided_at: datetime | None
    decision_note: str
    refund_id: int | None = Field(
        description="The refund an approval made, or the direct refund that superseded the request"
    )


class RequestedTicketOut(BaseModel):
    """One ticket a refund request names, as it stands now."""

    item_id: int
    ticket_id: int | None
    refundable: bool = Field(description="Whether approving now would refund it")
    reason: RefundBlock | None = Field(
        description="Why not: used, revoked, refunded or not_issued; null when refundable"
    )
    reason_message: str | None = Field(description="``reason`` in the request's language")


class MerchantRefundRequestOut(RefundRequestOut):
    """A refund request as a merchant sees it: with each ticket it names, as it stands now."""

    tickets: list[RequestedTicketOut]


class RefundRequestApproved(MerchantRefundRequestOut):
    """An approved request: ``item_ids`` were refunded; ``dropped`` were asked for but could no
    longer be refunded when it was approved."""

    dropped: list[RequestedTicketOut]
