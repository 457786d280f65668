"""The sales revision that brought approval deadlines gives orders already awaiting approval a
full default window from the upgrade on (never expiring them at once), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from server.accounts.models import Merchant
from server.db import make_engine
from server.migrate import upgrade
from server.sales.models import Order, OrderStatus

BEFORE = "307be8db1532"
PLACED = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def test_orders_awaiting_approval_get_a_deadline_after_the_upgrade(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = make_engine(empty_database_url)
    old_columns = ("merchant_id", "status", "total_fen", "currency", "refunded_fen")
    try:
        with engine.begin() as connection:
            merchant_id = connection.execute(
                insert(Merchant)
                .values(
                    name="Shop",
                    contact_name="",
                    contact_phone="+8613800138000",
                    status="active",
                    events_public=True,
                    rejection_reason="",
                    created_at=PLACED,
                    updated_at=PLACED,
                )
                .returning(Merchant.id)
            ).scalar_one()
            for status in ("awaiting_approval", "pending_payment"):
                row = dict(zip(old_columns, (merchant_id, status, 100, "CNY", 0), strict=True))
                connection.execute(
                    insert(Order).values(
                        **row, created_at=PLACED, expires_at=None, decision_note=""
                    )
                )
        upgraded_at = datetime.now(UTC)
        upgrade(empty_database_url)
        with engine.connect() as connection:
            rows = dict(connection.execute(select(Order.status, Order.expires_at)).all())
    finally:
        engine.dispose()
    assert rows[OrderStatus.PENDING_PAYMENT] is None
    deadline = rows[OrderStatus.AWAITING_APPROVAL]
    assert deadline is not None
    assert upgraded_at + timedelta(hours=47) < deadline < upgraded_at + timedelta(hours=49)
