"""sales and payments: approval deadlines with close reasons, visitors' refund requests;
notifications pruned by time

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
    op.create_table(
        "refund_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("visitor_user_id", sa.Integer(), nullable=True),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "withdrawn",
                name="refund_request_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("pending_order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_refund_requests_decided_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_refund_requests_merchant_id_merchants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_refund_requests_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refunds.id"],
            name=op.f("fk_refund_requests_refund_id_refunds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["visitor_user_id"],
            ["users.id"],
            name=op.f("fk_refund_requests_visitor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_requests")),
        # One pending request per order (pending_order_id is null once decided).
        sa.UniqueConstraint("pending_order_id", name=op.f("uq_refund_requests_pending_order_id")),
    )
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.create_index("ix_refund_requests_merchant_id", ["merchant_id"], unique=False)
        batch_op.create_index("ix_refund_requests_order_id", ["order_id"], unique=False)
        batch_op.create_index("ix_refund_requests_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_refund_requests_visitor_user_id", ["visitor_user_id"], unique=False
        )
    # The nonce sweep deletes by sent_at (server/payments/jobs.py).
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_payment_notifications_sent_at", ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_notifications_sent_at")
    op.drop_table("refund_requests")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("close_reason")
