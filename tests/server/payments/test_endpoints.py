"""Payment callbacks and cash over HTTP: idempotent, forged ones refused, amounts checked, and
several unpaid orders paid together."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from server.accounts.models import MerchantRole
from server.clock import ManualClock
from server.db import Database
from server.payments.models import NotificationOutcome, PaymentNotification
from server.payments.providers import SandboxProvider
from server.sales import service
from server.tickets.models import Ticket
from tests.server.catalog.builders import OnSale, on_sale
from tests.server.helpers import Account, AccountFactory, error_code

NOTIFY = "/api/payments/sandbox/notify"


def _order(client: TestClient, visitor: Account, made: OnSale, count: int = 1) -> dict[str, Any]:
    response = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}] * count},
        headers=visitor.headers,
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()[0]
    return order


def _start(client: TestClient, visitor: Account, order_ids: list[int]) -> dict[str, Any]:
    response = client.post(
        "/api/sales/payments",
        json={"order_ids": order_ids, "provider": "sandbox"},
        headers=visitor.headers,
    )
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


def _sandbox(client: TestClient) -> SandboxProvider:
    """The app's sandbox provider (same settings, same key)."""
    return SandboxProvider.from_settings(client.app.state.settings)  # type: ignore[attr-defined]


def _notify(
    client: TestClient, clock: ManualClock, started: dict[str, Any], **overrides: Any
) -> Any:
    fields = {
        "reference": started["reference"],
        "provider_txn_id": "wx-42",
        "amount_fen": started["amount_fen"],
        "currency": started["currency"],
        "now": clock(),
        **overrides,
    }
    headers, body = _sandbox(client).notification(**fields)
    return client.post(NOTIFY, content=body, headers=headers), headers, body


def _tickets(database: Database, order_id: int) -> list[Ticket]:
    with database.sessions() as session:
        return list(session.scalars(select(Ticket).where(Ticket.order_id == order_id)))


def test_several_unpaid_orders_are_paid_together_once(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    shop = accounts.merchant()
    first, second = on_sale(client, shop, clock()), on_sale(client, shop, clock(), price_fen=50)
    visitor = accounts.visitor()
    orders = [_order(client, visitor, first, 2), _order(client, visitor, second)]
    unpaid = client.get("/api/sales/orders/unpaid", headers=visitor.headers).json()
    assert sorted(o["id"] for o in unpaid) == sorted(o["id"] for o in orders)
    started = _start(client, visitor, [o["id"] for o in orders])
    assert started["amount_fen"] == 2 * 8800 + 50

    response, headers, body = _notify(client, clock, started)
    assert response.json() == {"code": "SUCCESS", "outcome": "accepted"}
    replay = client.post(NOTIFY, content=body, headers=headers)
    assert replay.json()["outcome"] == "duplicate"
    retry, _, _ = _notify(client, clock, started)  # the provider's retry: new nonce, same txn
    assert retry.json()["outcome"] == "duplicate"

    for order in orders:
        read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor.headers).json()
        assert read["status"] == "paid"
        assert len(_tickets(database, order["id"])) == len(order["items"])
    assert client.get("/api/sales/orders/unpaid", headers=visitor.headers).json() == []


def test_forged_notification_changes_nothing(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    order = _order(client, visitor, made)
    started = _start(client, visitor, [order["id"]])
    forger = SandboxProvider(b"not the key")
    headers, body = forger.notification(
        reference=started["reference"],
        provider_txn_id="forged",
        amount_fen=started["amount_fen"],
        currency="CNY",
        now=clock(),
    )
    response = client.post(NOTIFY, content=body, headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "payments.callback_rejected"
    read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor.headers).json()
    assert read["status"] == "pending_payment"


def test_stale_notification_is_refused(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    started = _start(client, visitor, [_order(client, visitor, made)["id"]])
    response, _, _ = _notify(client, clock, started, now=clock() - timedelta(minutes=10))
    assert response.status_code == 400


def test_amount_mismatch_is_refused_and_recorded(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    order = _order(client, visitor, made)
    started = _start(client, visitor, [order["id"]])
    response, _, _ = _notify(client, clock, started, amount_fen=1)
    assert response.status_code == 409
    assert error_code(response) == "payments.amount_mismatch"
    with database.sessions() as session:
        outcomes = session.scalars(select(PaymentNotification.outcome)).all()
    assert outcomes == [NotificationOutcome.AMOUNT_MISMATCH]
    read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor.headers).json()
    assert read["status"] == "pending_payment"


def test_payment_after_expiry_revives_the_order_while_stock_lasts(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), stock=1)
    visitor = accounts.visitor()
    order = _order(client, visitor, made)
    started = _start(client, visitor, [order["id"]])
    clock.advance(timedelta(minutes=20))
    with database.sessions.begin() as session:
        assert service.expire_orders(session, clock()) == 1
    response, _, _ = _notify(client, clock, started)
    assert response.json()["outcome"] == "accepted"
    read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor.headers).json()
    assert read["status"] == "paid"


def test_payment_after_expiry_and_sell_out_is_refunded(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), stock=1)
    late, early = accounts.visitor(), accounts.visitor()
    order = _order(client, late, made)
    started = _start(client, late, [order["id"]])
    clock.advance(timedelta(minutes=20))
    with database.sessions.begin() as session:
        service.expire_orders(session, clock())
    _order(client, early, made)
    response, _, _ = _notify(client, clock, started)
    assert response.status_code == 200
    read = client.get(f"/api/sales/orders/{order['id']}", headers=late.headers).json()
    assert read["status"] == "expired"
    payment = client.get(
        f"/api/merchant/payments/{started['payment_id']}", headers=made.merchant.owner.headers
    ).json()
    assert payment["refunded_fen"] == payment["amount_fen"]


def test_staff_record_cash_for_their_own_orders_only(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    shop, other = accounts.merchant(), accounts.merchant()
    made = on_sale(client, shop, clock())
    visitor = accounts.visitor()
    order = _order(client, visitor, made)
    foreign = client.post(
        "/api/merchant/payments/cash",
        json={"order_ids": [order["id"]]},
        headers=other.owner.headers,
    )
    assert foreign.status_code == 404
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    cash = client.post(
        "/api/merchant/payments/cash", json={"order_ids": [order["id"]]}, headers=checker.headers
    )
    assert cash.status_code == 201
    assert cash.json()["provider"] == "cash" and cash.json()["status"] == "succeeded"
    assert len(_tickets(database, order["id"])) == 1
    again = client.post(
        "/api/merchant/payments/cash", json={"order_ids": [order["id"]]}, headers=checker.headers
    )
    assert error_code(again) == "sales.order_not_payable"


def test_orders_of_different_merchants_cannot_share_a_payment(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    first = on_sale(client, accounts.merchant(), clock())
    second = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    ids = [_order(client, visitor, first)["id"], _order(client, visitor, second)["id"]]
    response = client.post(
        "/api/sales/payments",
        json={"order_ids": ids, "provider": "sandbox"},
        headers=visitor.headers,
    )
    assert error_code(response) == "sales.orders_not_payable_together"
    unknown = client.post(
        "/api/sales/payments",
        json={"order_ids": ids[:1], "provider": "bitcoin"},
        headers=visitor.headers,
    )
    assert error_code(unknown) == "payments.provider_unknown"
