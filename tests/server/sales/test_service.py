"""Sales rules on a real database (SQLite, and PostgreSQL where configured): atomic stock,
expiry, limits, sale windows, approval, refunds and the tickets they issue and revoke."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from server.catalog.models import TicketType
from server.clock import ManualClock
from server.db import Database
from server.errors import AdmitError, Conflict
from server.sales import service
from server.sales.jobs import EXPIRE_UNPAID_ORDERS
from server.sales.models import Order, OrderStatus
from server.sales.settings import SalesSettings
from server.tickets.models import Ticket, TicketStatus
from tests.server.catalog.builders import OnSale, on_sale
from tests.server.helpers import AccountFactory, error_code

CONFIG = SalesSettings(order_payment_ttl=timedelta(minutes=15))


def _sold(database: Database, ticket_type_id: int) -> int:
    with database.sessions() as session:
        return session.get_one(TicketType, ticket_type_id).sold


def _buy(database: Database, user_id: int, ticket_type_id: int, clock: ManualClock) -> Order:
    with database.sessions.begin() as session:
        orders = service.place_orders(
            session, user_id, [service.TicketRequest(ticket_type_id)], clock(), CONFIG
        )
        return orders[0]


def test_fifty_concurrent_buyers_never_oversell(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    shop = accounts.merchant()
    made = on_sale(client, shop, clock(), stock=20)
    buyer_id = accounts.visitor().user_id
    start = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def buy() -> None:
        start.wait()
        try:
            _buy(database, buyer_id, made.ticket_type_id, clock)
            outcome = "sold"
        except Conflict as exc:
            outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=buy) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("sold") == 20
    assert outcomes.count("sales.sold_out") == 30
    assert _sold(database, made.ticket_type_id) == 20
    with database.sessions() as session:
        assert len(session.scalars(select(Order)).all()) == 20


def test_expiry_releases_stock_exactly_once(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), stock=3)
    order = _buy(database, accounts.visitor().user_id, made.ticket_type_id, clock)
    assert _sold(database, made.ticket_type_id) == 1
    with database.sessions.begin() as session:
        assert service.expire_orders(session, clock() + timedelta(minutes=14)) == 0
    clock.advance(timedelta(minutes=15))
    with database.sessions.begin() as session:
        assert service.expire_orders(session, clock()) == 1
    with database.sessions.begin() as session:
        assert service.expire_orders(session, clock()) == 0
    assert _sold(database, made.ticket_type_id) == 0
    with database.sessions() as session:
        assert session.get_one(Order, order.id).status is OrderStatus.EXPIRED


def test_concurrent_expiry_sweeps_release_once(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), stock=10)
    buyer = accounts.visitor().user_id
    for _ in range(4):
        _buy(database, buyer, made.ticket_type_id, clock)
    clock.advance(timedelta(hours=1))
    start = threading.Barrier(4)
    counts: list[int] = []

    def sweep() -> None:
        start.wait()
        with database.sessions.begin() as session:
            counts.append(service.expire_orders(session, clock()))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 4
    assert _sold(database, made.ticket_type_id) == 0


def test_the_periodic_job_expires_orders(
    app: FastAPI,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), stock=2)
    _buy(database, accounts.visitor().user_id, made.ticket_type_id, clock)
    EXPIRE_UNPAID_ORDERS.run(app.state.context, clock() + timedelta(hours=1))
    assert _sold(database, made.ticket_type_id) == 0


def test_a_failed_order_reserves_nothing(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    shop = accounts.merchant()
    plenty = on_sale(client, shop, clock(), stock=10)
    scarce = client.post(
        f"/api/merchant/events/{plenty.event_id}/ticket-types",
        json={"name": "VIP", "price_fen": 100, "stock": 1},
        headers=shop.owner.headers,
    ).json()
    visitor = accounts.visitor()
    response = client.post(
        "/api/sales/buy-now",
        json={
            "tickets": [
                {"ticket_type_id": plenty.ticket_type_id},
                {"ticket_type_id": scarce["id"]},
                {"ticket_type_id": scarce["id"]},
            ]
        },
        headers=visitor.headers,
    )
    assert response.status_code == 409
    assert error_code(response) == "sales.sold_out"
    assert _sold(database, plenty.ticket_type_id) == 0
    assert _sold(database, scarce["id"]) == 0


def _buy_http(client: TestClient, headers: dict[str, str], tickets: Sequence[object]) -> Response:
    response: Response = client.post(
        "/api/sales/buy-now", json={"tickets": tickets}, headers=headers
    )
    return response


def test_price_sent_by_the_client_is_refused_and_never_used(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), price_fen=8800)
    visitor = accounts.visitor()
    tampered = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id, "price_fen": 1}]},
        headers=visitor.headers,
    )
    assert tampered.status_code == 422
    honest = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    )
    order = honest.json()[0]
    assert order["total_fen"] == 8800 and order["items"][0]["price_fen"] == 8800
    paid = client.post(
        "/api/sales/payments",
        json={"order_ids": [order["id"]], "provider": "sandbox", "amount_fen": 1},
        headers=visitor.headers,
    )
    assert paid.json()["amount_fen"] == 8800


def test_per_order_limit_applies_to_buy_now_and_cart(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), per_order_limit=2)
    visitor = accounts.visitor()
    three = [{"ticket_type_id": made.ticket_type_id}] * 3
    response = client.post("/api/sales/buy-now", json={"tickets": three}, headers=visitor.headers)
    assert error_code(response) == "sales.per_order_limit"
    for _ in range(2):
        added = client.post("/api/sales/cart/items", json=three[0], headers=visitor.headers)
        assert added.status_code == 201
    third = client.post("/api/sales/cart/items", json=three[0], headers=visitor.headers)
    assert error_code(third) == "sales.per_order_limit"


def test_sale_window_is_enforced(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    now = clock()
    made = on_sale(
        client,
        accounts.merchant(),
        now,
        sale_starts_at=(now + timedelta(hours=1)).isoformat(),
        sale_ends_at=(now + timedelta(hours=2)).isoformat(),
    )
    visitor = accounts.visitor()
    ticket = [{"ticket_type_id": made.ticket_type_id}]
    assert error_code(_buy_http(client, visitor.headers, ticket)) == "sales.not_on_sale"
    clock.advance(timedelta(hours=1))
    assert _buy_http(client, visitor.headers, ticket).status_code == 201
    clock.advance(timedelta(hours=1))
    assert error_code(_buy_http(client, visitor.headers, ticket)) == "sales.not_on_sale"


def test_holder_details_are_validated_and_normalised(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(
        client,
        accounts.merchant(),
        clock(),
        holder_fields={"name": "required", "phone": "required"},
    )
    visitor = accounts.visitor()
    missing = _buy_http(client, visitor.headers, [{"ticket_type_id": made.ticket_type_id}])
    assert error_code(missing) == "catalog.holder_field_required"
    ticket = {"ticket_type_id": made.ticket_type_id, "holder_name": "Han Meimei"}
    added = client.post(
        "/api/sales/cart/items",
        json={**ticket, "holder_phone": "13800138000"},
        headers=visitor.headers,
    )
    assert added.json()["holder_phone"] == "+8613800138000"


def test_visit_date_is_required_and_not_in_the_past(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), needs_visit_date=True)
    visitor = accounts.visitor()
    ticket: dict[str, object] = {"ticket_type_id": made.ticket_type_id}
    assert error_code(_buy_http(client, visitor.headers, [ticket])) == "sales.visit_date_required"
    yesterday = (clock() - timedelta(days=1)).date().isoformat()
    past = _buy_http(client, visitor.headers, [{**ticket, "visit_date": yesterday}])
    assert error_code(past) == "sales.visit_date_invalid"
    tomorrow = (clock() + timedelta(days=1)).date().isoformat()
    ok = _buy_http(client, visitor.headers, [{**ticket, "visit_date": tomorrow}])
    assert ok.json()[0]["items"][0]["visit_date"] == tomorrow


def test_cart_checkout_makes_one_order_per_event_and_empties_the_cart(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    first = on_sale(client, shop, clock())
    second = on_sale(client, shop, clock(), price_fen=100)
    visitor = accounts.visitor()
    for type_id in (first.ticket_type_id, first.ticket_type_id, second.ticket_type_id):
        client.post(
            "/api/sales/cart/items", json={"ticket_type_id": type_id}, headers=visitor.headers
        )
    orders = client.post("/api/sales/cart/checkout", headers=visitor.headers).json()
    assert sorted(order["total_fen"] for order in orders) == [100, 17600]
    assert client.get("/api/sales/cart", headers=visitor.headers).json() == []
    empty = client.post("/api/sales/cart/checkout", headers=visitor.headers)
    assert error_code(empty) == "sales.cart_empty"


def test_free_order_is_issued_at_once(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), price_fen=0)
    visitor = accounts.visitor()
    order = _buy_http(client, visitor.headers, [{"ticket_type_id": made.ticket_type_id}] * 2)
    body = order.json()[0]
    assert body["status"] == "paid"
    assert len(_tickets(database, body["id"])) == 2


def _tickets(database: Database, order_id: int) -> list[Ticket]:
    with database.sessions() as session:
        return list(session.scalars(select(Ticket).where(Ticket.order_id == order_id)))


def _approval_setup(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, price_fen: int
) -> tuple[OnSale, dict[str, str], int]:
    made = on_sale(
        client, accounts.merchant(), clock(), price_fen=price_fen, approval_required=True, stock=1
    )
    visitor = accounts.visitor()
    response = _buy_http(client, visitor.headers, [{"ticket_type_id": made.ticket_type_id}])
    order = response.json()[0]
    assert order["status"] == "awaiting_approval" and order["expires_at"] is not None
    return made, visitor.headers, order["id"]


def test_approving_a_free_order_issues_it(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made, _, order_id = _approval_setup(client, accounts, clock, price_fen=0)
    headers = made.merchant.owner.headers
    queue = client.get("/api/merchant/approvals", headers=headers).json()
    assert [order["id"] for order in queue] == [order_id]
    approved = client.post(
        f"/api/merchant/orders/{order_id}/approve", json={"note": "ok"}, headers=headers
    )
    assert approved.json()["status"] == "paid"
    assert len(_tickets(database, order_id)) == 1
    again = client.post(f"/api/merchant/orders/{order_id}/approve", json={}, headers=headers)
    assert error_code(again) == "sales.order_not_awaiting_approval"


def test_approving_a_paid_order_makes_it_payable(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made, visitor_headers, order_id = _approval_setup(client, accounts, clock, price_fen=500)
    early = client.post(
        "/api/sales/payments",
        json={"order_ids": [order_id], "provider": "sandbox"},
        headers=visitor_headers,
    )
    assert error_code(early) == "sales.order_not_payable"
    approved = client.post(
        f"/api/merchant/orders/{order_id}/approve", json={}, headers=made.merchant.owner.headers
    ).json()
    assert approved["status"] == "pending_payment" and approved["expires_at"] is not None
    unpaid = client.get("/api/sales/orders/unpaid", headers=visitor_headers).json()
    assert [order["id"] for order in unpaid] == [order_id]


def test_rejecting_releases_the_stock(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made, _, order_id = _approval_setup(client, accounts, clock, price_fen=500)
    assert _sold(database, made.ticket_type_id) == 1
    rejected = client.post(
        f"/api/merchant/orders/{order_id}/reject",
        json={"note": "full"},
        headers=made.merchant.owner.headers,
    )
    assert rejected.json()["status"] == "rejected"
    assert _sold(database, made.ticket_type_id) == 0


def test_visitor_cancels_an_unpaid_order_and_the_stock_returns(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    order = _buy_http(client, visitor.headers, [{"ticket_type_id": made.ticket_type_id}])
    order_id = order.json()[0]["id"]
    cancel = client.post(f"/api/sales/orders/{order_id}/cancel", headers=visitor.headers)
    assert cancel.json()["status"] == "cancelled"
    assert _sold(database, made.ticket_type_id) == 0
    again = client.post(f"/api/sales/orders/{order_id}/cancel", headers=visitor.headers)
    assert error_code(again) == "sales.order_not_cancellable"
    stranger = accounts.visitor()
    hidden = client.get(f"/api/sales/orders/{order_id}", headers=stranger.headers)
    assert hidden.status_code == 404


@pytest.mark.parametrize("restock", [False, True])
def test_refund_revokes_tickets_and_restocks_only_when_configured(
    restock: bool,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), restock_on_refund=restock)
    visitor = accounts.visitor()
    order = _buy_http(client, visitor.headers, [{"ticket_type_id": made.ticket_type_id}] * 2)
    order_id = order.json()[0]["id"]
    headers = made.merchant.owner.headers
    cash = client.post(
        "/api/merchant/payments/cash", json={"order_ids": [order_id]}, headers=headers
    )
    assert cash.status_code == 201, cash.text
    items = client.get(f"/api/merchant/orders/{order_id}", headers=headers).json()["items"]

    partial = client.post(
        f"/api/merchant/orders/{order_id}/refund",
        json={"item_ids": [items[0]["id"]], "reason": "changed plans"},
        headers=headers,
    )
    assert partial.status_code == 201, partial.text
    assert partial.json()["amount_fen"] == 8800
    states = {t.order_item_id: t.status for t in _tickets(database, order_id)}
    assert states == {items[0]["id"]: TicketStatus.REVOKED, items[1]["id"]: TicketStatus.VALID}
    assert _sold(database, made.ticket_type_id) == (1 if restock else 2)

    twice = client.post(
        f"/api/merchant/orders/{order_id}/refund",
        json={"item_ids": [items[0]["id"]], "reason": "again"},
        headers=headers,
    )
    assert error_code(twice) == "sales.item_not_refundable"
    rest = client.post(
        f"/api/merchant/orders/{order_id}/refund", json={"reason": "cancelled"}, headers=headers
    )
    assert rest.json()["item_ids"] == [items[1]["id"]]
    final = client.get(f"/api/merchant/orders/{order_id}", headers=headers).json()
    assert final["status"] == "refunded" and final["refunded_fen"] == 17600
    assert all(t.status is TicketStatus.REVOKED for t in _tickets(database, order_id))


def test_unpaid_order_cannot_be_refunded(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    order = _buy_http(client, visitor.headers, [{"ticket_type_id": made.ticket_type_id}])
    order_id = order.json()[0]["id"]
    response = client.post(
        f"/api/merchant/orders/{order_id}/refund",
        json={"reason": "x"},
        headers=made.merchant.owner.headers,
    )
    assert error_code(response) == "sales.order_not_refundable"


def test_domain_errors_carry_translations() -> None:
    error: AdmitError = Conflict("sales.sold_out", name="VIP")
    assert error.message("en") == "VIP is sold out"
    assert error.message("zh-CN") == "VIP 已售罄"
