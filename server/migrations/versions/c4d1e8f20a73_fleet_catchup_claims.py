"""fleet: which server instance answers a gate's catch-ups (``fleet_catchup_claims``), so that
with several instances a gate that is behind is answered once, not once per instance

Revision ID: c4d1e8f20a73
Revises: 6db71c606ef5
Create Date: 2026-11-22 14:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "c4d1e8f20a73"
down_revision: str | None = "6db71c606ef5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fleet_catchup_claims",
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", server.db.UTCDateTime(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gate_id"],
            ["fleet_gates.id"],
            name=op.f("fk_fleet_catchup_claims_gate_id_fleet_gates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_fleet_catchup_claims_merchant_id_merchants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("gate_id", name=op.f("pk_fleet_catchup_claims")),
    )
    with op.batch_alter_table("fleet_catchup_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fleet_catchup_claims_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fleet_catchup_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fleet_catchup_claims_merchant_id"))
    op.drop_table("fleet_catchup_claims")
