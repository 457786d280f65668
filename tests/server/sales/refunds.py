"""What the refund-request tests share: a visitor's paid order, asking for a refund, using and
revoking its tickets, and running a manager's acts against each other in their own
transactions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.clock import ManualClock
from server.db import Database
from server.errors import AdmitError
from server.payments.providers import make_providers
from server.sales import service
from server.tickets import repository as tickets_repo
from server.tickets import service as tickets_service
from server.tickets.models import Ticket
from tests.server.catalog.builders import OnSale, on_sale
from tests.server.helpers import Account, AccountFactory

EN = {"Accept-Language": "en"}


@dataclass
class Bought:
    made: OnSale
    visitor: Account
    order_id: int
    item_ids: list[int]

    @property
    def manager(self) -> dict[str, str]:
        return self.made.merchant.owner.headers


def buy_and_pay(
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    count: int = 2,
    **ticket_type: Any,
) -> Bought:
    """A visitor's order of ``count`` tickets, paid in cash at the counter."""
    made = on_sale(client, accounts.merchant(), clock(), **ticket_type)
    visitor = accounts.visitor()
    ticket: dict[str, Any] = {"ticket_type_id": made.ticket_type_id}
    if ticket_type.get("needs_visit_date"):
        ticket["visit_date"] = (clock() + timedelta(days=3)).date().isoformat()
    tickets = [ticket] * count
    order = client.post("/api/sales/buy-now", json={"tickets": tickets}, headers=visitor.headers)
    assert order.status_code == 201, order.text
    body = order.json()[0]
    if body["status"] != "paid":
        cash = client.post(
            "/api/merchant/payments/cash",
            json={"order_ids": [body["id"]]},
            headers=made.merchant.owner.headers,
        )
        assert cash.status_code == 201, cash.text
    return Bought(made, visitor, body["id"], [item["id"] for item in body["items"]])


def ask(client: TestClient, bought: Bought, **body: Any) -> Any:
    return client.post(
        f"/api/sales/orders/{bought.order_id}/refund-requests",
        json={"reason": "cannot come", **body},
        headers={**bought.visitor.headers, **EN},
    )


def order_tickets(database: Database, order_id: int) -> dict[int, Ticket]:
    with database.sessions() as session:
        found = session.scalars(select(Ticket).where(Ticket.order_id == order_id))
        return {ticket.order_item_id: ticket for ticket in found}


def use(database: Database, ticket_id: int) -> None:
    """Admit the ticket once, the way check-in does (the conditional entry claim)."""
    with database.sessions.begin() as session:
        assert tickets_repo.claim_entry(session, ticket_id) is not None


def read_request(client: TestClient, bought: Bought, request_id: int, language: str) -> Any:
    return client.get(
        f"/api/sales/refund-requests/{request_id}",
        headers={**bought.visitor.headers, "Accept-Language": language},
    ).json()


def revoke(database: Database, bought: Bought, item_ids: list[int], clock: ManualClock) -> None:
    """A manager revokes these tickets directly (``POST /api/merchant/tickets/revoke``'s
    service): no refund."""
    tickets = order_tickets(database, bought.order_id)
    with database.sessions.begin() as session:
        revoke_act(bought, [tickets[item_id].id for item_id in item_ids], clock)(session)


def race(database: Database, **acts: Callable[[Session], object]) -> dict[str, str]:
    """Run each act in its own write transaction, all starting at once; what each got: ``ok``
    or its error code (any other exception leaves its name out)."""
    barrier = threading.Barrier(len(acts))
    outcome: dict[str, str] = {}

    def run(name: str, act: Callable[[Session], object]) -> None:
        barrier.wait()
        try:
            with database.sessions.begin() as session:
                act(session)
            outcome[name] = "ok"
        except AdmitError as exc:
            outcome[name] = exc.code

    threads = [threading.Thread(target=run, args=item) for item in acts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def approve_act(client: TestClient, bought: Bought, request_id: int, clock: ManualClock) -> Any:
    def act(session: Session) -> object:
        return service.approve_refund_request(
            session,
            bought.made.merchant.merchant_id,
            request_id,
            staff_user_id=bought.made.merchant.owner.user_id,
            note="",
            providers=make_providers(client.app.state.settings),  # type: ignore[attr-defined]
            now=clock(),
        )

    return act


def revoke_act(bought: Bought, ticket_ids: list[int], clock: ManualClock) -> Any:
    def act(session: Session) -> object:
        return tickets_service.revoke_tickets(
            session, bought.made.merchant.merchant_id, ticket_ids, "lost", clock()
        )

    return act
