"""Payments knobs, read from ``ADMIT_*`` environment variables like the server's own settings.

They live here, not in :mod:`server.settings`, because that module belongs to the foundation
(as :mod:`server.sales.settings` does for sales).
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADMIT_", extra="ignore", frozen=True)

    #: How often the sweep forgets provider notifications whose nonces can no longer be
    #: replayed (``ADMIT_PAYMENT_NONCE_PRUNE_INTERVAL``).
    payment_nonce_prune_interval: timedelta = timedelta(minutes=10)
    #: How long refused notifications (amount mismatch, unknown payment) are kept as a record
    #: for the people who investigate them (``ADMIT_PAYMENT_NOTIFICATION_AUDIT_RETENTION``).
    payment_notification_audit_retention: timedelta = Field(
        default=timedelta(days=90), ge=timedelta(0)
    )


@lru_cache(maxsize=1)
def get_payments_settings() -> PaymentsSettings:
    """The process's payments settings from the environment, read once."""
    return PaymentsSettings()
