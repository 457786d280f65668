"""Refund requests whose tickets are used after the visitor asked. A check-in tells sales
nothing, so a request follows its used tickets lazily, by the same rule as revocations
(``service.follow_refund_request``): when a manager approves it (the used tickets are dropped
and the rest refunded; none left: the request is closed and the answer says so), in the
periodic sweep, and in the manager's view of the queue (each ticket: refundable, or why not)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from server.clock import ManualClock
from server.db import Database
from server.sales import repository as repo
from server.sales import service
from server.sales.feature import FEATURE
from server.sales.jobs import FOLLOW_REFUND_REQUESTS, sweep_refund_requests
from server.sales.models import (
    ItemStatus,
    RefundBlock,
    RefundRequest,
    RefundRequestStatus,
)
from server.tickets import repository as tickets_repo
from server.tickets.models import TicketStatus
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
    use,
)

ZH = {"Accept-Language": "zh-CN"}
USED_EN = "Used (admitted at a gate or by a checker); cannot be refunded"


def _approve(client: TestClient, bought: Bought, request_id: int, **headers: str) -> Any:
    return client.post(
        f"/api/merchant/refund-requests/{request_id}/approve",
        json={"note": "ok"},
        headers={**bought.manager, **headers},
    )


def _manager_view(client: TestClient, bought: Bought, request_id: int, language: str) -> Any:
    return client.get(
        f"/api/merchant/refund-requests/{request_id}",
        headers={**bought.manager, "Accept-Language": language},
    ).json()


def _blocks(shown: dict[str, Any]) -> list[tuple[int, bool, str | None]]:
    return [(t["item_id"], t["refundable"], t["reason"]) for t in shown["tickets"]]


def _stored(database: Database, request_id: int) -> RefundRequest:
    with database.sessions() as session:
        return session.get_one(RefundRequest, request_id)


def _check_in_at_the_counter(client: TestClient, bought: Bought, code: str) -> None:
    """A checker types the ticket's code (the real check-in API, once the event has begun)."""
    checked = client.post(
        "/api/merchant/checkin/code",
        json={"code": code, "event_id": bought.made.event_id},
        headers=bought.manager,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["admitted"] is True, checked.text


# --- approval -------------------------------------------------------------------------------------


def test_approving_a_partly_used_request_refunds_the_rest_and_says_what_was_dropped(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3, restock_on_refund=True)
    first, second, third = bought.item_ids
    request = ask(client, bought).json()
    tickets = order_tickets(database, bought.order_id)
    clock.advance(timedelta(days=1, minutes=1))  # the event has begun
    _check_in_at_the_counter(client, bought, tickets[first].code)

    shown = _manager_view(client, bought, request["id"], "en")
    assert shown["status"] == "pending" and shown["item_ids"] == [first, second, third]
    assert _blocks(shown) == [(first, False, "used"), (second, True, None), (third, True, None)]
    assert shown["tickets"][0]["reason_message"] == USED_EN
    assert shown["tickets"][0]["ticket_id"] == tickets[first].id

    approved = _approve(client, bought, request["id"], **EN)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["refund_id"] is not None
    assert (body["item_ids"], body["amount_fen"]) == ([second, third], 2 * 8800)
    assert body["dropped"] == [
        {
            "item_id": first,
            "ticket_id": tickets[first].id,
            "refundable": False,
            "reason": "used",
            "reason_message": USED_EN,
        }
    ]
    assert _blocks(body) == [(second, False, "refunded"), (third, False, "refunded")]

    after = order_tickets(database, bought.order_id)
    assert (after[first].status, after[first].entries_used) == (TicketStatus.VALID, 1)
    assert {after[second].status, after[third].status} == {TicketStatus.REVOKED}
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("paid", 2 * 8800)
    assert [item["status"] for item in order["items"]] == ["active", "refunded", "refunded"]


def test_a_multi_entry_ticket_admitted_once_is_used(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2, entries_allowed=3)
    first, second = bought.item_ids
    request = ask(client, bought).json()
    use(database, order_tickets(database, bought.order_id)[first].id)
    approved = _approve(client, bought, request["id"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["item_ids"] == [second]
    assert [t["item_id"] for t in approved.json()["dropped"]] == [first]


def test_approving_a_wholly_used_request_closes_it_and_answers_why(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2)
    first, second = bought.item_ids
    request = ask(client, bought).json()
    tickets = order_tickets(database, bought.order_id)
    for item_id in bought.item_ids:
        use(database, tickets[item_id].id)
    clock.advance(timedelta(minutes=5))

    refused = _approve(client, bought, request["id"], **EN)
    assert refused.status_code == 409
    assert error_code(refused) == "sales.nothing_left_to_refund"
    assert refused.json()["error"]["message"] == (
        "None of the tickets asked for can be refunded any more (used, revoked or refunded); "
        "the request has been closed"
    )
    assert refused.json()["error"]["detail"] == {
        "request_id": request["id"],
        "status": "voided",
        "dropped": [{"item_id": first, "reason": "used"}, {"item_id": second, "reason": "used"}],
    }
    zh = _approve(client, bought, request["id"], **ZH)
    assert error_code(zh) == "sales.refund_request_not_pending"  # closed for good

    closed = _manager_view(client, bought, request["id"], "en")
    assert closed["status"] == "voided"
    assert closed["status_message"] == "Closed: the tickets asked for were voided or used"
    assert datetime.fromisoformat(closed["decided_at"]) == clock()
    assert (closed["refund_id"], closed["decision_note"]) == (None, "")
    assert _blocks(closed) == [(first, False, "used"), (second, False, "used")]
    stored = _stored(database, request["id"])
    assert (stored.pending_order_id, stored.decided_by_user_id) == (None, None)
    assert client.get("/api/merchant/refund-requests", headers=bought.manager).json() == []
    withdraw = client.post(
        f"/api/sales/refund-requests/{request['id']}/withdraw", headers=bought.visitor.headers
    )
    assert error_code(withdraw) == "sales.refund_request_not_pending"
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("paid", 0)
    assert {t.status for t in order_tickets(database, bought.order_id).values()} == {
        TicketStatus.VALID
    }
    assert error_code(ask(client, bought)) == "sales.nothing_refundable"


def test_the_closing_is_kept_when_the_service_is_called_in_a_transaction(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    """The approval commits the closing before it raises: the caller's rollback keeps it."""
    bought = buy_and_pay(client, accounts, clock, count=1)
    request = ask(client, bought).json()
    use(database, order_tickets(database, bought.order_id)[bought.item_ids[0]].id)
    outcome = race(database, approve=approve_act(client, bought, request["id"], clock))
    assert outcome == {"approve": "sales.nothing_left_to_refund"}
    assert _stored(database, request["id"]).status is RefundRequestStatus.VOIDED


def test_a_request_narrowed_by_a_revocation_then_used_is_voided_at_approval(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2)
    first, second = bought.item_ids
    request = ask(client, bought).json()
    revoke(database, bought, [first], clock)
    use(database, order_tickets(database, bought.order_id)[second].id)
    refused = _approve(client, bought, request["id"])
    assert error_code(refused) == "sales.nothing_left_to_refund"
    assert refused.json()["error"]["detail"]["dropped"] == [{"item_id": second, "reason": "used"}]
    assert read_request(client, bought, request["id"], "en")["status"] == "voided"


# --- the rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "block"),
    [
        (repo.RequestedItem(1, 100, ItemStatus.ACTIVE, 7, TicketStatus.VALID, 0), None),
        (repo.RequestedItem(1, 100, ItemStatus.ACTIVE, 7, TicketStatus.VALID, 1), RefundBlock.USED),
        (repo.RequestedItem(1, 100, ItemStatus.ACTIVE, 7, TicketStatus.VALID, 5), RefundBlock.USED),
        (
            repo.RequestedItem(1, 100, ItemStatus.ACTIVE, 7, TicketStatus.REVOKED, 0),
            RefundBlock.REVOKED,
        ),
        (
            repo.RequestedItem(1, 100, ItemStatus.ACTIVE, 7, TicketStatus.REVOKED, 1),
            RefundBlock.REVOKED,
        ),
        (
            repo.RequestedItem(1, 100, ItemStatus.REFUNDED, 7, TicketStatus.REVOKED, 0),
            RefundBlock.REFUNDED,
        ),
        (
            repo.RequestedItem(1, 100, ItemStatus.ACTIVE, None, None, None),
            RefundBlock.NOT_ISSUED,
        ),
        (None, RefundBlock.NOT_ISSUED),
    ],
)
def test_why_a_requested_ticket_cannot_be_refunded(
    item: repo.RequestedItem | None, block: RefundBlock | None
) -> None:
    assert service.refund_block(item) is block


# --- the sweep ------------------------------------------------------------------------------------


def test_the_sweep_is_one_of_the_sales_jobs() -> None:
    assert FOLLOW_REFUND_REQUESTS in FEATURE.periodic_jobs
    assert FOLLOW_REFUND_REQUESTS.interval == timedelta(minutes=1)


@pytest.mark.parametrize("batch", [1, 2, 3, 200])
def test_the_sweep_closes_wholly_used_requests_and_narrows_partly_used_ones(
    batch: int,
    app: FastAPI,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    """Pages of ``batch`` requests: one, a page boundary on the last request, and one page."""
    wholly = buy_and_pay(client, accounts, clock, count=2)
    partly = buy_and_pay(client, accounts, clock, count=3)
    untouched = buy_and_pay(client, accounts, clock, count=1)
    decided = buy_and_pay(client, accounts, clock, count=1)
    everyone = {"wholly": wholly, "partly": partly, "untouched": untouched, "decided": decided}
    requests = {name: ask(client, bought).json()["id"] for name, bought in everyone.items()}
    client.post(
        f"/api/merchant/refund-requests/{requests['decided']}/reject",
        json={},
        headers=decided.manager,
    )
    for bought, item_ids in (
        (wholly, wholly.item_ids),
        (partly, partly.item_ids[1:2]),
        (decided, decided.item_ids),
    ):
        tickets = order_tickets(database, bought.order_id)
        for item_id in item_ids:
            use(database, tickets[item_id].id)
    clock.advance(timedelta(minutes=3))

    counts = sweep_refund_requests(app.state.context, clock(), batch=batch)
    assert counts == service.SweepCounts(closed=1, narrowed=1)
    voided = _stored(database, requests["wholly"])
    assert (voided.status, voided.decided_at, voided.pending_order_id) == (
        RefundRequestStatus.VOIDED,
        clock(),
        None,
    )
    narrowed = _stored(database, requests["partly"])
    first, _, third = partly.item_ids
    assert narrowed.status is RefundRequestStatus.PENDING
    assert (narrowed.item_ids, narrowed.amount_fen) == ([first, third], 2 * 8800)
    assert _stored(database, requests["untouched"]).status is RefundRequestStatus.PENDING
    assert _stored(database, requests["untouched"]).item_ids == untouched.item_ids
    assert _stored(database, requests["decided"]).status is RefundRequestStatus.REJECTED

    assert sweep_refund_requests(app.state.context, clock(), batch=batch) == (service.SweepCounts())
    FOLLOW_REFUND_REQUESTS.run(app.state.context, clock())  # the job as scheduled: idempotent
    assert _stored(database, requests["partly"]).item_ids == [first, third]
    assert client.get("/api/merchant/refund-requests", headers=wholly.manager).json() == []
    queue = client.get("/api/merchant/refund-requests", headers=partly.manager).json()
    assert [(r["id"], _blocks(r)) for r in queue] == [
        (requests["partly"], [(first, True, None), (third, True, None)])
    ]


def test_the_sweep_finds_nothing_to_do_without_used_tickets(
    app: FastAPI, client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2)
    request = ask(client, bought).json()
    assert sweep_refund_requests(app.state.context, clock()) == service.SweepCounts()
    assert read_request(client, bought, request["id"], "en")["item_ids"] == bought.item_ids


# --- the manager's view ---------------------------------------------------------------------------


def test_the_queue_shows_each_ticket_refundable_or_why_not(
    client: TestClient, accounts: AccountFactory, clock: ManualClock, database: Database
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=3)
    first, second, third = bought.item_ids
    request = ask(client, bought, item_ids=[first, second]).json()
    use(database, order_tickets(database, bought.order_id)[second].id)

    queue = client.get("/api/merchant/refund-requests", headers={**bought.manager, **ZH}).json()
    assert [r["id"] for r in queue] == [request["id"]]
    assert _blocks(queue[0]) == [(first, True, None), (second, False, "used")]
    assert [t["reason_message"] for t in queue[0]["tickets"]] == [
        None,
        "已使用（已检票入场），不能退款",
    ]
    assert queue[0]["item_ids"] == [first, second]  # nothing changed by looking
    mine = read_request(client, bought, request["id"], "en")
    assert "tickets" not in mine  # the visitor's view is as before

    approved = _approve(client, bought, request["id"]).json()
    assert approved["item_ids"] == [first]
    done = client.get(
        "/api/merchant/refund-requests?status=approved", headers={**bought.manager, **EN}
    ).json()
    assert _blocks(done[0]) == [(first, False, "refunded")]
    assert done[0]["tickets"][0]["reason_message"] == "Already refunded"

    again = ask(client, bought).json()
    assert again["item_ids"] == [third]
    rejected = client.post(
        f"/api/merchant/refund-requests/{again['id']}/reject", json={}, headers=bought.manager
    ).json()
    assert _blocks(rejected) == [(third, True, None)]  # rejected: the ticket stays valid


# --- races ----------------------------------------------------------------------------------------


def _check_in(database: Database, ticket_id: int, entries: dict[str, object]) -> Any:
    def act(session: Session) -> object:
        entries["entry"] = tickets_repo.claim_entry(session, ticket_id)
        return entries["entry"]

    return act


@pytest.mark.parametrize("repeat", range(3))
def test_a_check_in_racing_the_approval_never_leaves_a_used_ticket_refunded(
    repeat: int,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=1)
    request_id = ask(client, bought).json()["id"]
    ticket_id = order_tickets(database, bought.order_id)[bought.item_ids[0]].id
    entries: dict[str, object] = {}
    outcome = race(
        database,
        approve=approve_act(client, bought, request_id, clock),
        check_in=_check_in(database, ticket_id, entries),
    )
    ticket = order_tickets(database, bought.order_id)[bought.item_ids[0]]
    request = _stored(database, request_id)
    assert outcome["check_in"] == "ok"
    if outcome["approve"] == "ok":
        assert entries["entry"] is None
        assert (ticket.status, ticket.entries_used) == (TicketStatus.REVOKED, 0)
        assert request.status is RefundRequestStatus.APPROVED
    else:
        assert outcome["approve"] == "sales.nothing_left_to_refund"
        assert entries["entry"] == (1, 1)
        assert (ticket.status, ticket.entries_used) == (TicketStatus.VALID, 1)
        assert request.status is RefundRequestStatus.VOIDED


@pytest.mark.parametrize("repeat", range(3))
def test_a_check_in_racing_the_approval_of_two_tickets_refunds_what_was_not_used(
    repeat: int,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2)
    first, second = bought.item_ids
    request_id = ask(client, bought).json()["id"]
    first_ticket = order_tickets(database, bought.order_id)[first].id
    entries: dict[str, object] = {}
    outcome = race(
        database,
        approve=approve_act(client, bought, request_id, clock),
        check_in=_check_in(database, first_ticket, entries),
    )
    assert outcome == {"approve": "ok", "check_in": "ok"}
    request = _stored(database, request_id)
    tickets = order_tickets(database, bought.order_id)
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert request.status is RefundRequestStatus.APPROVED
    assert tickets[second].status is TicketStatus.REVOKED
    if entries["entry"] is None:  # the approval first: both refunded, the entry refused
        assert request.item_ids == [first, second]
        assert (tickets[first].status, tickets[first].entries_used) == (TicketStatus.REVOKED, 0)
        assert (order["status"], order["refunded_fen"]) == ("refunded", 2 * 8800)
    else:  # the check-in first: the used ticket dropped
        assert entries["entry"] == (1, 1)
        assert request.item_ids == [second]
        assert (tickets[first].status, tickets[first].entries_used) == (TicketStatus.VALID, 1)
        assert (order["status"], order["refunded_fen"]) == ("paid", 8800)


@pytest.mark.parametrize("repeat", range(3))
def test_the_sweep_racing_the_approval_refunds_the_unused_tickets_once(
    repeat: int,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    bought = buy_and_pay(client, accounts, clock, count=2)
    first, second = bought.item_ids
    request_id = ask(client, bought).json()["id"]
    use(database, order_tickets(database, bought.order_id)[first].id)

    def sweep(session: Session) -> object:
        return service.follow_refund_requests(session, [request_id], clock())

    outcome = race(database, approve=approve_act(client, bought, request_id, clock), sweep=sweep)
    assert outcome == {"approve": "ok", "sweep": "ok"}
    request = _stored(database, request_id)
    assert (request.status, request.item_ids, request.amount_fen) == (
        RefundRequestStatus.APPROVED,
        [second],
        8800,
    )
    order = client.get(f"/api/merchant/orders/{bought.order_id}", headers=bought.manager).json()
    assert (order["status"], order["refunded_fen"]) == ("paid", 8800)
    assert order_tickets(database, bought.order_id)[first].status is TicketStatus.VALID
