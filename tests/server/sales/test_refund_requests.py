"""Visitors' refund requests: only their own paid orders, only unused tickets, only before each
ticket's admission starts; a manager approves (through the staff refund path: money back,
tickets revoked and announced to the gates) or rejects; one pending request per order; a
pending request follows direct refunds and revocations of its tickets, also when they race its
approval (tickets used meanwhile: test_used_refund_requests.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import MerchantRole
from server.catalog.models import TicketType
from server.clock import ManualClock
from server.db import Database
from server.errors import AdmitError
from server.fleet import lists as fleet_lists
from server.payments.providers import SandboxProvider, make_providers
from server.sales import service
from server.sales.models import RefundRequest, RefundRequestStatus
from server.sales.settings import SalesSettings
from server.signals import tickets_revoked
from server.tickets.models import TicketStatus
from tests.server.catalog.builders import on_sale
from tests.server.helpers import AccountFactory, error_code
from tests.server.sales.refunds import (
    EN,
    Bought,
    approve_act,
    ask,
    buy_and_pay,
    order_tickets,
    race,
    read_request,
    revoke,
    revoke_act,
    use,
)


def _sold(database: Database, ticket_type_id: int) -> int:
    with database.sessions() as session:
        return session.get_one(TicketType, ticket_type_id).sold


class Revocations:
    def __init__(self) -> None:
        self.ticket_ids: list[int] = []

    def __call__(self, session: Session, tickets: Sequence[Any]) -> None:
        self.ticket_ids.extend(ticket.id for ticket in tickets)


@pytest.fixture
def revocations() -> Iterator[Revocations]:
    """What ``tickets_revoked`` announced (the fleet turns it into the gates' revocation list)."""
    recorder = Revocations()
    tickets_revoked.connect(recorder)
    yield recorder
    tickets_revoked.disconnect(recorder)


def test_a_visitor_asks_a_manager_approves_and_the_ticket_is_revoked_and_refunded(
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
    revocations: Revocations,
) -> None:
    bought = buy_and_pay(client, accounts, clock, restock_on_refund=True)
    first, second = bought.item_ids
    asked = ask(client, bought, item_ids=[first])
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["status"] == "pending" and request["item_ids"] == [first]
    assert (request["amount_fen"], request["currency"]) == (8800, "CNY")
    assert request["status_message"] == "Waiting for the merchant's decision"

    mine = client.get("/api/sales/refund-requests", headers=bought.visitor.headers).json()
    assert [r["id"] for r in mine] == [request["id"]]
    queue = client.get("/api/merchant/refund-requests", headers=bought.manager).json()
    assert [r["id"] for r in queue] == [request["id"]]

    approved = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve",
        json={"note": "ok"},
        headers=bought.manager,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["refund_id"] is not None

    tickets = order_tickets(database, bought.order_id)
    assert tickets[first].status is TicketStatus.REVOKED
    assert tickets[first].revoke_reason == "refunded"
    assert tickets[second].status is TicketStatus.VALID
    assert revocations.ticket_ids == [tickets[first].id]
    assert _sold(database, bought.made.ticket_type_id) == 1
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert order["status"] == "paid" and order["refunded_fen"] == 8800
    seen = client.get(
        f"/api/sales/refund-requests/{request['id']}",
        headers={**bought.visitor.headers, "Accept-Language": "zh-CN"},
    ).json()
    assert seen["status_message"] == "商家已同意，票已作废，款项原路退回"
    assert client.get("/api/merchant/refund-requests", headers=bought.manager).json() == []
    done = client.get(
        "/api/merchant/refund-requests?status=approved", headers=bought.manager
    ).json()
    assert [r["id"] for r in done] == [request["id"]]


def test_money_goes_back_through_the_payment_provider(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    order = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    ).json()[0]
    started = client.post(
        "/api/sales/payments",
        json={"order_ids": [order["id"]], "provider": "sandbox"},
        headers=visitor.headers,
    ).json()
    sandbox = SandboxProvider.from_settings(client.app.state.settings)  # type: ignore[attr-defined]
    headers, body = sandbox.notification(
        reference=started["reference"],
        provider_txn_id="wx-7",
        amount_fen=started["amount_fen"],
        currency="CNY",
        now=clock(),
    )
    assert client.post("/api/payments/sandbox/notify", content=body, headers=headers).is_success
    bought = Bought(made, visitor, order["id"], [order["items"][0]["id"]])
    request = ask(client, bought).json()
    client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=bought.manager
    )
    payment = client.get(
        f"/api/merchant/payments/{started['payment_id']}", headers=bought.manager
    ).json()
    assert payment["refunded_fen"] == 8800
    read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor.headers).json()
    assert read["status"] == "refunded"


def test_omitting_items_asks_for_every_unused_ticket(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3)
    tickets = order_tickets(database, bought.order_id)
    use(database, tickets[bought.item_ids[1]].id)
    request = ask(client, bought).json()
    assert request["item_ids"] == [bought.item_ids[0], bought.item_ids[2]]
    assert request["amount_fen"] == 2 * 8800


def test_used_tickets_cannot_be_asked_back(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    use(database, order_tickets(database, bought.order_id)[bought.item_ids[0]].id)
    named = ask(client, bought, item_ids=bought.item_ids)
    assert named.status_code == 409
    assert error_code(named) == "sales.ticket_used"
    assert named.json()["error"]["message"] == (
        f"Ticket {bought.item_ids[0]} has been used and cannot be refunded"
    )
    everything = ask(client, bought)
    assert everything.status_code == 409
    assert error_code(everything) == "sales.nothing_refundable"


def test_two_managers_approving_at_once_refund_once(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    request_id = ask(client, bought).json()["id"]
    barrier = threading.Barrier(2)
    codes: list[str] = []
    lock = threading.Lock()

    def approve() -> None:
        barrier.wait()
        try:
            with database.sessions.begin() as session:
                service.approve_refund_request(
                    session,
                    bought.made.merchant.merchant_id,
                    request_id,
                    staff_user_id=bought.made.merchant.owner.user_id,
                    note="",
                    providers=make_providers(client.app.state.settings),  # type: ignore[attr-defined]
                    now=clock(),
                )
            code = "approved"
        except AdmitError as exc:
            code = exc.code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == ["approved", "sales.refund_request_not_pending"]
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert order["refunded_fen"] == 8800


def test_requests_close_when_admission_starts(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    """The event starts a day after the builders' ``now``: asking is possible until then."""
    bought = buy_and_pay(client, accounts, clock, count=1)
    clock.advance(timedelta(days=1))
    late = ask(client, bought, item_ids=bought.item_ids)
    assert late.status_code == 409
    assert error_code(late) == "sales.refund_window_closed"
    assert late.json()["error"]["detail"]["item_id"] == bought.item_ids[0]
    assert error_code(ask(client, bought)) == "sales.nothing_refundable"


def test_a_visit_date_ticket_may_be_asked_back_until_its_day(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1, needs_visit_date=True)
    clock.advance(timedelta(days=2))  # the event has started; the visit is on day 3
    assert ask(client, bought).status_code == 201
    other = buy_and_pay(client, accounts, clock, count=1, needs_visit_date=True)
    clock.advance(timedelta(days=3))  # the visit day (day 5 of the builders' clock) has begun
    assert error_code(ask(client, other)) == "sales.nothing_refundable"


def test_the_cutoff_setting_closes_requests_earlier(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    config = SalesSettings(refund_request_cutoff=timedelta(days=2))
    with database.sessions.begin() as session, pytest.raises(AdmitError) as refused:
        service.request_refund(
            session,
            bought.visitor.user_id,
            bought.order_id,
            item_ids=None,
            reason="x",
            now=clock(),
            config=config,
        )
    assert refused.value.code == "sales.nothing_refundable"


def test_one_pending_request_per_order_and_asking_again_after_a_decision(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock)
    first = ask(client, bought, item_ids=bought.item_ids[:1]).json()
    twice = ask(client, bought, item_ids=bought.item_ids[1:])
    assert twice.status_code == 409
    assert error_code(twice) == "sales.refund_already_requested"
    client.post(
        f"/api/merchant/refund-requests/{first['id']}/reject", json={}, headers=bought.manager
    )
    again = ask(client, bought, item_ids=bought.item_ids[1:])
    assert again.status_code == 201


def test_a_visitor_withdraws_a_pending_request(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    request = ask(client, bought).json()
    path = f"/api/sales/refund-requests/{request['id']}/withdraw"
    withdrawn = client.post(path, headers=bought.visitor.headers).json()
    assert withdrawn["status"] == "withdrawn"
    late = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=bought.manager
    )
    assert error_code(late) == "sales.refund_request_not_pending"
    assert error_code(client.post(path, headers=bought.visitor.headers)) == (
        "sales.refund_request_not_pending"
    )
    assert order_tickets(database, bought.order_id)[bought.item_ids[0]].status is TicketStatus.VALID


def test_a_free_order_can_be_given_back(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1, price_fen=0)
    request = ask(client, bought).json()
    assert request["amount_fen"] == 0
    approved = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=bought.manager
    )
    assert approved.json()["status"] == "approved"
    assert (
        order_tickets(database, bought.order_id)[bought.item_ids[0]].status is TicketStatus.REVOKED
    )


def test_only_the_visitors_own_paid_order_and_its_own_items(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    stranger = accounts.visitor()
    foreign = client.post(
        f"/api/sales/orders/{bought.order_id}/refund-requests",
        json={"reason": "mine?"},
        headers=stranger.headers,
    )
    assert foreign.status_code == 404
    assert error_code(foreign) == "sales.order_not_found"
    wrong_item = ask(client, bought, item_ids=[bought.item_ids[0] + 1000])
    assert wrong_item.status_code == 422
    assert error_code(wrong_item) == "sales.item_not_refundable"
    assert ask(client, bought, item_ids=[]).status_code == 422
    assert ask(client, bought, reason="").status_code == 422
    request = ask(client, bought).json()
    peek = client.get(f"/api/sales/refund-requests/{request['id']}", headers=stranger.headers)
    assert error_code(peek) == "sales.refund_request_not_found"
    unpaid_made = on_sale(client, bought.made.merchant, clock())
    unpaid = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": unpaid_made.ticket_type_id}]},
        headers=bought.visitor.headers,
    ).json()[0]
    refused = client.post(
        f"/api/sales/orders/{unpaid['id']}/refund-requests",
        json={"reason": "x"},
        headers={**bought.visitor.headers, "Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "只有已支付的订单可以退款"


def test_checkers_may_read_but_not_decide_and_other_merchants_see_nothing(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    request = ask(client, bought).json()
    checker = accounts.staff(bought.made.merchant, MerchantRole.CHECKER)
    listed = client.get("/api/merchant/refund-requests", headers=checker.headers)
    assert [r["id"] for r in listed.json()] == [request["id"]]
    denied = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=checker.headers
    )
    assert denied.status_code == 403
    other_shop = accounts.merchant()
    assert (
        client.get("/api/merchant/refund-requests", headers=other_shop.owner.headers).json() == []
    )


# --- a direct refund while a request is pending -------------------------------------------------


def _refund_directly(client: TestClient, bought: Bought, item_ids: list[int] | None = None) -> Any:
    """A manager refunds through the staff path, not through the visitor's request."""
    body: dict[str, Any] = {"reason": "phoned the box office"}
    if item_ids is not None:
        body["item_ids"] = item_ids
    return client.post(
        f"/api/merchant/orders/{bought.order_id}/refund", json=body, headers=bought.manager
    )


def test_a_direct_refund_of_the_whole_order_closes_the_pending_request(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock)
    request = ask(client, bought, item_ids=bought.item_ids[:1]).json()
    refund = _refund_directly(client, bought)
    assert refund.status_code == 201, refund.text

    closed = read_request(client, bought, request["id"], "en")
    assert closed["status"] == "superseded"
    assert closed["status_message"] == "Closed: the merchant refunded these tickets directly"
    assert closed["refund_id"] == refund.json()["id"]
    assert closed["decided_at"] is not None
    zh = read_request(client, bought, request["id"], "zh-CN")
    assert zh["status_message"] == "商家已直接为这些票办理退款，申请已自动关闭"
    assert client.get("/api/merchant/refund-requests", headers=bought.manager).json() == []
    closed_ones = client.get(
        "/api/merchant/refund-requests?status=superseded", headers=bought.manager
    ).json()
    assert [r["id"] for r in closed_ones] == [request["id"]]

    late = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve",
        json={},
        headers={**bought.manager, **EN},
    )
    assert late.status_code == 409
    assert error_code(late) == "sales.refund_request_not_pending"
    assert late.json()["error"]["message"] == (
        "The refund request has already been decided, withdrawn or closed"
    )
    withdraw = client.post(
        f"/api/sales/refund-requests/{request['id']}/withdraw", headers=bought.visitor.headers
    )
    assert error_code(withdraw) == "sales.refund_request_not_pending"
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("refunded", 2 * 8800)


def test_a_direct_refund_of_every_asked_ticket_closes_the_request_and_frees_the_order(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3)
    asked, rest = bought.item_ids[:2], bought.item_ids[2:]
    request = ask(client, bought, item_ids=asked).json()
    assert _refund_directly(client, bought, asked).status_code == 201
    assert read_request(client, bought, request["id"], "en")["status"] == "superseded"
    again = ask(client, bought)
    assert again.status_code == 201, again.text
    assert again.json()["item_ids"] == rest


def test_a_direct_refund_of_some_asked_tickets_narrows_the_request_to_the_rest(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3)
    first, second, third = bought.item_ids
    request = ask(client, bought, item_ids=[first, second]).json()
    assert request["amount_fen"] == 2 * 8800
    assert _refund_directly(client, bought, [first]).status_code == 201
    narrowed = read_request(client, bought, request["id"], "en")
    assert narrowed["status"] == "pending"
    assert (narrowed["item_ids"], narrowed["amount_fen"]) == ([second], 8800)

    approved = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=bought.manager
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    tickets = order_tickets(database, bought.order_id)
    assert [tickets[item].status for item in bought.item_ids] == [
        TicketStatus.REVOKED,
        TicketStatus.REVOKED,
        TicketStatus.VALID,
    ]
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("paid", 2 * 8800)
    assert third not in approved.json()["item_ids"]


def test_a_direct_refund_of_other_tickets_leaves_the_request_as_it_was(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock)
    first, second = bought.item_ids
    request = ask(client, bought, item_ids=[first]).json()
    assert _refund_directly(client, bought, [second]).status_code == 201
    unchanged = read_request(client, bought, request["id"], "en")
    assert (unchanged["status"], unchanged["item_ids"]) == ("pending", [first])
    approved = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=bought.manager
    )
    assert approved.json()["status"] == "approved"
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("refunded", 2 * 8800)


def test_tickets_revoked_without_a_refund_void_the_pending_request(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock)
    request = ask(client, bought).json()
    clock.advance(timedelta(minutes=5))
    revoked_at = clock()
    revoke(database, bought, bought.item_ids, clock)

    closed = read_request(client, bought, request["id"], "en")
    assert closed["status"] == "voided"
    assert closed["status_message"] == "Closed: the tickets asked for were voided or used"
    assert closed["refund_id"] is None and closed["decision_note"] == ""
    assert datetime.fromisoformat(closed["decided_at"]) == revoked_at
    zh = read_request(client, bought, request["id"], "zh-CN")
    assert zh["status_message"] == "所申请的票已作废或已使用，申请已自动关闭"
    assert client.get("/api/merchant/refund-requests", headers=bought.manager).json() == []
    voided = client.get(
        "/api/merchant/refund-requests?status=voided", headers=bought.manager
    ).json()
    assert [r["id"] for r in voided] == [request["id"]]
    for path, headers in (
        (f"/api/merchant/refund-requests/{request['id']}/approve", bought.manager),
        (f"/api/merchant/refund-requests/{request['id']}/reject", bought.manager),
    ):
        late = client.post(path, json={}, headers=headers)
        assert late.status_code == 409
        assert error_code(late) == "sales.refund_request_not_pending"
    withdraw = client.post(
        f"/api/sales/refund-requests/{request['id']}/withdraw", headers=bought.visitor.headers
    )
    assert error_code(withdraw) == "sales.refund_request_not_pending"
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("paid", 0)
    with database.sessions() as session:
        stored = session.get_one(RefundRequest, request["id"])
        assert (stored.pending_order_id, stored.decided_by_user_id) == (None, None)


def test_some_tickets_revoked_without_a_refund_narrow_the_request_to_the_rest(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3)
    first, second, third = bought.item_ids
    request = ask(client, bought).json()
    assert request["amount_fen"] == 3 * 8800
    revoke(database, bought, [second], clock)

    narrowed = read_request(client, bought, request["id"], "en")
    assert narrowed["status"] == "pending" and narrowed["decided_at"] is None
    assert (narrowed["item_ids"], narrowed["amount_fen"]) == ([first, third], 2 * 8800)
    approved = client.post(
        f"/api/merchant/refund-requests/{request['id']}/approve", json={}, headers=bought.manager
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("paid", 2 * 8800)
    assert [item["status"] for item in order["items"]] == ["refunded", "active", "refunded"]


def test_a_revocation_also_drops_tickets_used_meanwhile(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    """A check-in announces nothing to sales, so a used ticket stays named until something
    happens to the request's tickets; a revocation then settles every ticket it names."""
    bought = buy_and_pay(client, accounts, clock, count=3)
    first, second, third = bought.item_ids
    request = ask(client, bought).json()
    use(database, order_tickets(database, bought.order_id)[first].id)
    assert read_request(client, bought, request["id"], "en")["item_ids"] == bought.item_ids
    revoke(database, bought, [second], clock)
    narrowed = read_request(client, bought, request["id"], "en")
    assert (narrowed["status"], narrowed["item_ids"], narrowed["amount_fen"]) == (
        "pending",
        [third],
        8800,
    )
    revoke(database, bought, [third], clock)
    assert read_request(client, bought, request["id"], "en")["status"] == "voided"


def test_revoking_tickets_the_request_does_not_name_leaves_it_alone(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3)
    first, second, third = bought.item_ids
    request = ask(client, bought, item_ids=[first, second]).json()
    use(database, order_tickets(database, bought.order_id)[first].id)
    revoke(database, bought, [third], clock)
    unchanged = read_request(client, bought, request["id"], "en")
    assert (unchanged["status"], unchanged["item_ids"]) == ("pending", [first, second])


def test_a_direct_refund_supersedes_a_request_whose_other_tickets_are_gone(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    """Revoked without a refund first (narrowed), then the rest refunded directly: closed as
    superseded by that refund."""
    bought = buy_and_pay(client, accounts, clock, count=3)
    first, second, _ = bought.item_ids
    request = ask(client, bought, item_ids=[first, second]).json()
    revoke(database, bought, [first], clock)
    refund = _refund_directly(client, bought, [second])
    assert refund.status_code == 201, refund.text
    closed = read_request(client, bought, request["id"], "en")
    assert (closed["status"], closed["refund_id"]) == ("superseded", refund.json()["id"])
    with database.sessions() as session:
        stored = session.get_one(RefundRequest, request["id"])
        assert stored.decided_by_user_id == bought.made.merchant.owner.user_id


def _direct_refund(client: TestClient, bought: Bought, clock: ManualClock) -> Any:
    def act(session: Session) -> object:
        return service.refund_order(
            session,
            bought.made.merchant.merchant_id,
            bought.order_id,
            item_ids=None,
            reason="phoned the box office",
            staff_user_id=bought.made.merchant.owner.user_id,
            providers=make_providers(client.app.state.settings),  # type: ignore[attr-defined]
            now=clock(),
        )

    return act


@pytest.mark.parametrize("repeat", range(3))
def test_a_direct_refund_racing_the_approval_refunds_once_and_settles_the_request(
    repeat: int,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    request_id = ask(client, bought).json()["id"]
    approve = approve_act(client, bought, request_id, clock)
    outcome = race(database, approve=approve, refund=_direct_refund(client, bought, clock))
    with database.sessions() as session:
        request = session.get_one(RefundRequest, request_id)
    if outcome["approve"] == "ok":
        assert outcome == {"approve": "ok", "refund": "sales.order_not_refundable"}
        assert request.status is RefundRequestStatus.APPROVED
    else:
        assert outcome == {"approve": "sales.refund_request_not_pending", "refund": "ok"}
        assert request.status is RefundRequestStatus.SUPERSEDED
    assert request.pending_order_id is None and request.refund_id is not None
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("refunded", 8800)


@pytest.mark.parametrize("repeat", range(3))
def test_a_visitor_asking_while_the_order_is_refunded_never_leaves_a_request_pending(
    repeat: int,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)

    def ask(session: Session) -> object:
        return service.request_refund(
            session,
            bought.visitor.user_id,
            bought.order_id,
            item_ids=None,
            reason="cannot come",
            now=clock(),
            config=SalesSettings(),
        )

    outcome = race(database, ask=ask, refund=_direct_refund(client, bought, clock))
    assert outcome["refund"] == "ok"
    assert outcome["ask"] in {"ok", "sales.order_not_refundable"}
    with database.sessions() as session:
        statuses = session.scalars(
            select(RefundRequest.status).where(RefundRequest.order_id == bought.order_id)
        ).all()
    expected = [RefundRequestStatus.SUPERSEDED] if outcome["ask"] == "ok" else []
    assert statuses == expected


# --- revocations racing decisions, with the receivers in either order ---------------------------


@pytest.fixture(params=["fleet_first", "sales_first"])
def receiver_order(request: pytest.FixtureRequest, client: TestClient) -> Iterator[str]:
    """The app connects the fleet's list receiver before the sales one (features load in
    package order); run the races with that order and the other way round, since the lock
    order must hold either way (the fleet's receiver locks the sites' lists)."""
    original = list(tickets_revoked._receivers)
    assert fleet_lists.on_tickets_revoked in original and service.on_tickets_revoked in original
    ordered: list[Callable[[Session, Sequence[Any]], None]] = [
        fleet_lists.on_tickets_revoked,
        service.on_tickets_revoked,
    ]
    if request.param == "sales_first":
        ordered.reverse()
    for receiver in ordered:
        tickets_revoked.disconnect(receiver)
    for receiver in ordered:
        tickets_revoked.connect(receiver)
    yield request.param
    for receiver in original:
        tickets_revoked.disconnect(receiver)
    for receiver in original:
        tickets_revoked.connect(receiver)


@pytest.mark.parametrize("repeat", range(3))
def test_a_revocation_racing_the_approval_either_voids_the_request_or_follows_the_refund(
    repeat: int,
    receiver_order: str,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2)
    request_id = ask(client, bought).json()["id"]
    tickets = order_tickets(database, bought.order_id)
    revoked = [tickets[item_id].id for item_id in bought.item_ids]
    outcome = race(
        database,
        approve=approve_act(client, bought, request_id, clock),
        revoke=revoke_act(bought, revoked, clock),
    )
    assert outcome["revoke"] == "ok"
    with database.sessions() as session:
        request = session.get_one(RefundRequest, request_id)
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    if outcome["approve"] == "ok":
        assert request.status is RefundRequestStatus.APPROVED
        assert (order["status"], order["refunded_fen"]) == ("refunded", 2 * 8800)
    else:
        assert outcome["approve"] == "sales.refund_request_not_pending"
        assert request.status is RefundRequestStatus.VOIDED
        assert (order["status"], order["refunded_fen"]) == ("paid", 0)
    assert request.pending_order_id is None
    assert {t.status for t in order_tickets(database, bought.order_id).values()} == {
        TicketStatus.REVOKED
    }


@pytest.mark.parametrize("repeat", range(3))
def test_a_revocation_racing_a_refund_of_other_asked_tickets_never_leaves_them_pending(
    repeat: int,
    receiver_order: str,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    """One manager refunds the first ticket while another revokes the second, both asked for:
    whichever lands second closes the request (superseded by the refund, or voided)."""
    bought = buy_and_pay(client, accounts, clock, count=2)
    first, second = bought.item_ids
    request_id = ask(client, bought).json()["id"]
    second_ticket = order_tickets(database, bought.order_id)[second].id

    def refund(session: Session) -> object:
        return service.refund_order(
            session,
            bought.made.merchant.merchant_id,
            bought.order_id,
            item_ids=[first],
            reason="phoned the box office",
            staff_user_id=bought.made.merchant.owner.user_id,
            providers=make_providers(client.app.state.settings),  # type: ignore[attr-defined]
            now=clock(),
        )

    outcome = race(database, refund=refund, revoke=revoke_act(bought, [second_ticket], clock))
    assert outcome == {"refund": "ok", "revoke": "ok"}
    with database.sessions() as session:
        request = session.get_one(RefundRequest, request_id)
    assert request.pending_order_id is None
    assert request.status in {RefundRequestStatus.SUPERSEDED, RefundRequestStatus.VOIDED}
    assert (request.refund_id is not None) == (request.status is RefundRequestStatus.SUPERSEDED)


@pytest.mark.parametrize("repeat", range(3))
def test_a_revocation_racing_the_approval_of_a_narrower_request_refunds_what_is_left(
    repeat: int,
    receiver_order: str,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    """The revoked ticket is one of two asked for: the approval refunds the other one either
    way, and the revoked one only if the approval landed first."""
    bought = buy_and_pay(client, accounts, clock, count=2)
    first, second = bought.item_ids
    request_id = ask(client, bought).json()["id"]
    second_ticket = order_tickets(database, bought.order_id)[second].id
    outcome = race(
        database,
        approve=approve_act(client, bought, request_id, clock),
        revoke=revoke_act(bought, [second_ticket], clock),
    )
    assert outcome == {"approve": "ok", "revoke": "ok"}
    with database.sessions() as session:
        request = session.get_one(RefundRequest, request_id)
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert request.status is RefundRequestStatus.APPROVED
    if request.item_ids == [first]:
        assert (order["status"], order["refunded_fen"]) == ("paid", 8800)
    else:
        assert request.item_ids == [first, second]
        assert (order["status"], order["refunded_fen"]) == ("refunded", 2 * 8800)
