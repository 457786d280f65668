"""sales and payments: payment notifications pruned by their signed time

Revision ID: 4c39fa6084dd
Revises: 307be8db1532
Create Date: 2026-11-22 00:37:58.653585
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "4c39fa6084dd"
down_revision: str | None = "307be8db1532"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The nonce sweep deletes by sent_at (server/payments/jobs.py).
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_payment_notifications_sent_at", ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_notifications_sent_at")
