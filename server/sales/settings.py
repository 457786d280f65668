"""Sales knobs, read from ``ADMIT_*`` environment variables like the server's own settings.

They live here, not in :mod:`server.settings`, because that module belongs to the foundation;
moving them there later changes only :func:`get_sales_settings`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SalesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADMIT_", extra="ignore", frozen=True)

    #: How long an unpaid order holds its stock (``ADMIT_ORDER_PAYMENT_TTL``).
    order_payment_ttl: timedelta = timedelta(minutes=15)
    #: How long an order awaiting approval holds its stock before it expires undecided
    #: (``ADMIT_ORDER_APPROVAL_TTL``); never past the end of the order's event.
    order_approval_ttl: timedelta = Field(default=timedelta(hours=48), gt=timedelta(0))
    #: How often the expiry sweep looks for unpaid or undecided orders past their time.
    order_expiry_interval: timedelta = timedelta(seconds=30)
    #: Visitors may ask for a ticket's refund until this long before its admission starts
    #: (its validity start, else its event's start) (``ADMIT_REFUND_REQUEST_CUTOFF``).
    refund_request_cutoff: timedelta = Field(default=timedelta(0), ge=timedelta(0))
    #: How often pending refund requests are checked for tickets used (or otherwise gone) since
    #: the visitor asked, and closed or narrowed (``ADMIT_REFUND_REQUEST_SWEEP_INTERVAL``).
    refund_request_sweep_interval: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    #: Tickets in one checkout or buy-now request.
    max_tickets_per_checkout: int = Field(default=50, ge=1)


@lru_cache(maxsize=1)
def get_sales_settings() -> SalesSettings:
    """The process's sales settings from the environment, read once."""
    return SalesSettings()
