"""Order objects of the shape sales hands to ``issue_for_order`` (seam 1), for tests that do
not need the sales package, plus a helper that issues tickets in their own transaction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from server.db import Database
from server.tickets import service
from server.tickets.models import Ticket

_ids = itertools.count(1000)


@dataclass(frozen=True)
class FakeTicketType:
    event_id: int = 1
    id: int = 7
    entries_allowed: int = 1
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    zone_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class FakeItem:
    ticket_type: FakeTicketType = field(default_factory=FakeTicketType)
    holder_name: str = "张三"
    holder_phone: str | None = "+8613800138000"
    holder_fields: dict[str, Any] = field(default_factory=dict)
    visit_date: date | None = None
    id: int = field(default_factory=lambda: next(_ids))


@dataclass(frozen=True)
class FakeOrder:
    merchant_id: int
    items: list[FakeItem]
    visitor_user_id: int | None = None
    id: int = field(default_factory=lambda: next(_ids))


def issue(
    database: Database,
    merchant_id: int,
    *,
    count: int = 1,
    visitor_user_id: int | None = None,
    now: datetime,
    ticket_type: FakeTicketType | None = None,
    holder_phone: str | None = "+8613800138000",
) -> list[Ticket]:
    """Issue ``count`` tickets of one order and commit."""
    items = [
        FakeItem(ticket_type=ticket_type or FakeTicketType(), holder_phone=holder_phone)
        for _ in range(count)
    ]
    order = FakeOrder(merchant_id=merchant_id, items=items, visitor_user_id=visitor_user_id)
    with database.sessions.begin() as session:
        return service.issue_for_order(session, order, now=now)
