"""sales: a visitor's refund request is closed as ``voided`` when its tickets are revoked without
a refund (or used); pending requests already left with revoked tickets are closed (or narrowed)

Revision ID: 6db71c606ef5
Revises: 8f23910d0ff0
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "6db71c606ef5"
down_revision: str | None = "8f23910d0ff0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("pending", "approved", "rejected", "withdrawn", "superseded")
_NEW = (*_OLD, "voided")
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
    sa.column("item_ids", sa.JSON()),
    sa.column("amount_fen", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("pending_order_id", sa.Integer()),
    sa.column("decided_at", server.db.UTCDateTime(timezone=True)),
)
_items = sa.table(
    "order_items",
    sa.column("id", sa.Integer()),
    sa.column("price_fen", sa.Integer()),
    sa.column("status", sa.String()),
)
_tickets = sa.table(
    "tickets",
    sa.column("order_item_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("entries_used", sa.Integer()),
)


def upgrade() -> None:
    _allow(_NEW)
    # Requests left pending although some of their tickets were revoked without a refund (they
    # could never be approved as they stood): closed as voided when nothing they ask for can be
    # refunded any more, else narrowed to what still can (item active, ticket valid, unused).
    bind = op.get_bind()
    now = datetime.now(UTC)
    pending = bind.execute(
        sa.select(_requests.c.id, _requests.c.item_ids).where(_requests.c.status == "pending")
    ).all()
    for request_id, item_ids in pending:
        tickets = {
            item_id: (status, entries_used)
            for item_id, status, entries_used in bind.execute(
                sa.select(
                    _tickets.c.order_item_id, _tickets.c.status, _tickets.c.entries_used
                ).where(_tickets.c.order_item_id.in_(item_ids))
            )
        }
        if not any(status == "revoked" for status, _ in tickets.values()):
            continue
        active = dict(
            bind.execute(
                sa.select(_items.c.id, _items.c.price_fen).where(
                    _items.c.id.in_(item_ids), _items.c.status == "active"
                )
            ).all()
        )
        left = [
            item_id
            for item_id in item_ids
            if item_id in active and tickets.get(item_id) == ("valid", 0)
        ]
        this = _requests.update().where(_requests.c.id == request_id)
        if not left:
            bind.execute(this.values(status="voided", pending_order_id=None, decided_at=now))
        elif len(left) < len(item_ids):
            amount = sum(active[item_id] for item_id in left)
            bind.execute(this.values(item_ids=left, amount_fen=amount))


def downgrade() -> None:
    # The older schema has no such state; nothing was refunded, as after a rejection.
    op.execute(_requests.update().where(_requests.c.status == "voided").values(status="rejected"))
    _allow(_OLD)
