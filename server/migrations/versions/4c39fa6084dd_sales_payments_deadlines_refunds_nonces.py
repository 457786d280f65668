"""sales and payments: approval deadlines with close reasons; notifications pruned by time

Revision ID: 4c39fa6084dd
Revises: 307be8db1532
Create Date: 2026-11-22 00:37:58.653585
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "4c39fa6084dd"
down_revision: str | None = "307be8db1532"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Orders already awaiting approval get the default approval TTL from the upgrade on, so an
#: upgrade never expires an order before its merchant had a full window to decide.
DEFAULT_APPROVAL_TTL = timedelta(hours=48)

CLOSE_REASON = sa.Enum(
    "payment_timeout",
    "approval_timeout",
    "rejected",
    "cancelled",
    name="order_close_reason",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("close_reason", CLOSE_REASON, nullable=True))
    orders = sa.table(
        "orders",
        sa.column("status", sa.String()),
        sa.column("expires_at", server.db.UTCDateTime(timezone=True)),
    )
    op.execute(
        orders.update()
        .where(orders.c.status == "awaiting_approval", orders.c.expires_at.is_(None))
        .values(expires_at=datetime.now(UTC) + DEFAULT_APPROVAL_TTL)
    )
    # The nonce sweep deletes by sent_at (server/payments/jobs.py).
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_payment_notifications_sent_at", ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_notifications_sent_at")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("close_reason")
