"""sales: a visitor's refund request is closed as ``superseded`` when a manager refunds its
tickets directly; pending requests already overtaken that way are closed (or narrowed)

Revision ID: 9d2f61c0b7a4
Revises: 4c39fa6084dd
Create Date: 2026-11-23 10:12:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "9d2f61c0b7a4"
down_revision: str | None = "4c39fa6084dd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("pending", "approved", "rejected", "withdrawn")
_NEW = (*_OLD, "superseded")
_CHECK = "refund_request_status"


def _status_check(values: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def _allow(values: Sequence[str]) -> None:
    """Replace the CHECK constraint of ``refund_requests.status`` (a non-native enum)."""
    with op.batch_alter_table("refund_requests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_refund_requests_{_CHECK}"), type_="check")
        batch_op.create_check_constraint(_CHECK, _status_check(values))


_requests = sa.table(
    "refund_requests",
    sa.column("id", sa.Integer()),
    sa.column("order_id", sa.Integer()),
    sa.column("item_ids", sa.JSON()),
    sa.column("amount_fen", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("pending_order_id", sa.Integer()),
    sa.column("decided_at", server.db.UTCDateTime(timezone=True)),
)
_items = sa.table(
    "order_items",
    sa.column("id", sa.Integer()),
    sa.column("order_id", sa.Integer()),
    sa.column("price_fen", sa.Integer()),
    sa.column("status", sa.String()),
)


def upgrade() -> None:
    _allow(_NEW)
    # Requests left pending although a direct refund already gave their tickets back (they
    # could never be approved): closed as superseded, or narrowed to the tickets still active.
    bind = op.get_bind()
    now = datetime.now(UTC)
    pending = bind.execute(
        sa.select(_requests.c.id, _requests.c.order_id, _requests.c.item_ids).where(
            _requests.c.status == "pending"
        )
    ).all()
    for request_id, order_id, item_ids in pending:
        active = dict(
            bind.execute(
                sa.select(_items.c.id, _items.c.price_fen).where(
                    _items.c.order_id == order_id, _items.c.status == "active"
                )
            ).all()
        )
        left = [item_id for item_id in item_ids if item_id in active]
        this = _requests.update().where(_requests.c.id == request_id)
        if not left:
            bind.execute(this.values(status="superseded", pending_order_id=None, decided_at=now))
        elif len(left) < len(item_ids):
            amount = sum(active[item_id] for item_id in left)
            bind.execute(this.values(item_ids=left, amount_fen=amount))


def downgrade() -> None:
    # The older schema has no such state; the tickets were refunded, as after an approval.
    op.execute(
        _requests.update().where(_requests.c.status == "superseded").values(status="approved")
    )
    _allow(_OLD)
