"""Orders awaiting approval do not hold their stock forever: past the approval deadline the
sweep expires them (reason ``approval_timeout``, shown to the visitor) and gives the stock back
once; a late approval is refused; approval racing the sweep leaves one consistent outcome."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.catalog.models import TicketType
from server.clock import ManualClock
from server.db import Database
from server.errors import Conflict
from server.sales import service
from server.sales.jobs import EXPIRE_UNPAID_ORDERS
from server.sales.models import CloseReason, Order, OrderStatus
from server.sales.settings import SalesSettings
from tests.server.catalog.builders import OnSale, on_sale
from tests.server.helpers import AccountFactory, error_code

TTL = SalesSettings().order_approval_ttl
EN = {"Accept-Language": "en"}


def _sold(database: Database, ticket_type_id: int) -> int:
    with database.sessions() as session:
        return session.get_one(TicketType, ticket_type_id).sold


def _awaiting(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, **fields: Any
) -> tuple[OnSale, dict[str, str], dict[str, Any]]:
    made = on_sale(client, accounts.merchant(), clock(), approval_required=True, **fields)
    visitor = accounts.visitor()
    response = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()[0]
    assert order["status"] == "awaiting_approval"
    return made, visitor.headers, order


def _sweep(database: Database, now: datetime) -> int:
    with database.sessions.begin() as session:
        return service.expire_orders(session, now)


def test_an_undecided_order_expires_at_its_deadline_and_the_visitor_sees_why(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made, visitor_headers, order = _awaiting(client, accounts, clock)
    deadline = datetime.fromisoformat(order["expires_at"])
    assert deadline == clock() + TTL
    assert _sold(database, made.ticket_type_id) == 1

    assert _sweep(database, deadline - timedelta(seconds=1)) == 0
    assert _sweep(database, deadline) == 1
    assert _sweep(database, deadline) == 0
    assert _sold(database, made.ticket_type_id) == 0

    path = f"/api/sales/orders/{order['id']}"
    read = client.get(path, headers={**visitor_headers, **EN}).json()
    assert read["status"] == "expired"
    assert read["close_reason"] == "approval_timeout"
    assert read["close_message"].startswith("The merchant did not review the order")
    chinese = client.get(path, headers={**visitor_headers, "Accept-Language": "zh-CN"}).json()
    assert chinese["close_message"] == "商家未在审核期限内处理，订单已关闭，票已释放"
    queue = client.get("/api/merchant/approvals", headers=made.merchant.owner.headers).json()
    assert queue == []


def test_the_deadline_is_never_after_the_event_ends(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), approval_required=True)
    config = SalesSettings(order_approval_ttl=timedelta(days=30))
    with database.sessions.begin() as session:
        (order,) = service.place_orders(
            session, None, [service.TicketRequest(made.ticket_type_id)], clock(), config
        )
        ends_at = order.items[0].ticket_type.event.ends_at
        assert order.expires_at == ends_at < clock() + timedelta(days=30)


def test_a_late_approval_is_refused_and_the_sweep_still_releases_the_stock(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made, _, order = _awaiting(client, accounts, clock)
    clock.advance(TTL)
    late = client.post(
        f"/api/merchant/orders/{order['id']}/approve",
        json={"note": "sorry, busy"},
        headers={**made.merchant.owner.headers, **EN},
    )
    assert late.status_code == 409
    assert error_code(late) == "sales.approval_expired"
    assert late.json()["error"]["message"] == (
        "The approval deadline has passed; the order is closed"
    )
    assert _sold(database, made.ticket_type_id) == 1
    assert _sweep(database, clock()) == 1
    assert _sold(database, made.ticket_type_id) == 0


def test_an_approved_order_gets_a_payment_deadline_and_expires_for_not_paying(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made, visitor_headers, order = _awaiting(client, accounts, clock)
    approved = client.post(
        f"/api/merchant/orders/{order['id']}/approve",
        json={},
        headers=made.merchant.owner.headers,
    ).json()
    payment_deadline = datetime.fromisoformat(approved["expires_at"])
    assert payment_deadline == clock() + SalesSettings().order_payment_ttl
    assert _sweep(database, payment_deadline) == 1
    read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor_headers).json()
    assert (read["status"], read["close_reason"]) == ("expired", "payment_timeout")
    assert _sold(database, made.ticket_type_id) == 0


def test_the_periodic_job_expires_undecided_orders(
    app: FastAPI,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    made, _, order = _awaiting(client, accounts, clock)
    EXPIRE_UNPAID_ORDERS.run(app.state.context, clock() + TTL)
    assert _sold(database, made.ticket_type_id) == 0
    with database.sessions() as session:
        expired = session.get_one(Order, order["id"])
        assert expired.close_reason is CloseReason.APPROVAL_TIMEOUT


def test_rejected_and_cancelled_orders_say_so(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made, visitor_headers, order = _awaiting(client, accounts, clock)
    rejected = client.post(
        f"/api/merchant/orders/{order['id']}/reject",
        json={"note": "full"},
        headers={**made.merchant.owner.headers, **EN},
    ).json()
    assert rejected["close_reason"] == "rejected" and rejected["expires_at"] is None
    assert rejected["close_message"] == "The merchant declined the order"
    _, visitor_headers, other = _awaiting(client, accounts, clock)
    cancelled = client.post(
        f"/api/sales/orders/{other['id']}/cancel", headers={**visitor_headers, **EN}
    ).json()
    assert cancelled["close_reason"] == "cancelled"
    assert cancelled["close_message"] == "The order was cancelled by the buyer"


@pytest.mark.parametrize("repeat", range(3))
def test_approval_racing_the_sweep_has_one_consistent_outcome(
    repeat: int,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    """The manager's clock says one second before the deadline, the sweeper's says the
    deadline: one of them wins; the stock is held exactly when the order is still open."""
    made, _, order = _awaiting(client, accounts, clock)
    deadline = datetime.fromisoformat(order["expires_at"])
    manager_id = made.merchant.owner.user_id
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def approve() -> None:
        barrier.wait()
        try:
            with database.sessions.begin() as session:
                service.approve_order(
                    session,
                    made.merchant.merchant_id,
                    order["id"],
                    staff_user_id=manager_id,
                    note="",
                    now=deadline - timedelta(seconds=1),
                    config=SalesSettings(),
                )
            outcomes["approve"] = "approved"
        except Conflict as exc:
            outcomes["approve"] = exc.code

    def sweep() -> None:
        barrier.wait()
        outcomes["sweep"] = _sweep(database, deadline)

    threads = [threading.Thread(target=approve), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.sessions() as session:
        status = session.get_one(Order, order["id"]).status
    if outcomes["approve"] == "approved":
        assert outcomes["sweep"] == 0 and status is OrderStatus.PENDING_PAYMENT
        assert _sold(database, made.ticket_type_id) == 1
    else:
        assert outcomes == {"approve": "sales.order_not_awaiting_approval", "sweep": 1}
        assert status is OrderStatus.EXPIRED
        assert _sold(database, made.ticket_type_id) == 0


def test_the_approval_deadline_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIT_ORDER_APPROVAL_TTL", "PT6H")
    assert SalesSettings().order_approval_ttl == timedelta(hours=6)
    monkeypatch.setenv("ADMIT_ORDER_APPROVAL_TTL", "0")
    with pytest.raises(ValueError):
        SalesSettings()
