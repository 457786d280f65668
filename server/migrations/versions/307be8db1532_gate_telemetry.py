"""gate telemetry: the kiosk's latest metrics and when the server got them

Revision ID: 307be8db1532
Revises: fcaf78e1a495
Create Date: 2026-11-21 22:43:06.365697
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "307be8db1532"
down_revision: str | None = "fcaf78e1a495"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fleet_gates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telemetry", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("telemetry_at", server.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("fleet_gates", schema=None) as batch_op:
        batch_op.drop_column("telemetry_at")
        batch_op.drop_column("telemetry")
