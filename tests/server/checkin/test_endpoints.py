"""The check-in API: checkers by credential, code and phone; the back office; records, stats."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from protocol import reasons
from protocol.codes import format_code
from server.accounts.models import MerchantRole, MerchantStatus
from server.checkin.models import CheckinRecord
from server.clock import ManualClock
from server.db import WORKER_THREADS, Database
from tests.server.helpers import AccountFactory, MerchantAccount, auth_headers, error_code
from tests.server.tickets.orders import FakeTicketType, issue

SCAN = "/api/merchant/checkin/scan"
CODE = "/api/merchant/checkin/code"
RECORDS = "/api/merchant/checkin/records"


def _checker(accounts: AccountFactory, shop: MerchantAccount) -> dict[str, str]:
    return accounts.staff(shop, MerchantRole.CHECKER).headers


def test_a_scanned_credential_is_admitted_once(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    checker = _checker(accounts, shop)
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    first = client.post(SCAN, json={"credential": ticket.credential}, headers=checker).json()
    second = client.post(SCAN, json={"credential": ticket.credential}, headers=checker).json()
    assert (first["admitted"], first["reason"], first["ticket"]["id"]) == (
        True,
        "admitted",
        ticket.id,
    )
    assert (second["admitted"], second["reason"]) == (False, reasons.ALREADY_USED)


def test_a_forged_or_foreign_credential_is_refused_and_logged(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop, other = accounts.merchant(), accounts.merchant()
    checker = _checker(accounts, shop)
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    (foreign,) = issue(database, other.merchant_id, now=clock())
    last = ticket.credential[-1]
    forged = ticket.credential[:-1] + ("0" if last != "0" else "1")
    outcome = client.post(SCAN, json={"credential": forged}, headers=checker).json()
    assert outcome["reason"] in {reasons.BAD_SIGNATURE, reasons.MALFORMED}
    assert outcome["ticket"] is None
    foreign_outcome = client.post(SCAN, json={"credential": foreign.credential}, headers=checker)
    assert foreign_outcome.json()["admitted"] is False
    logged = client.get(RECORDS, headers=shop.owner.headers).json()
    assert [r["result"] for r in logged] == ["rejected", "rejected"]


def test_a_typed_code_in_any_spelling_and_a_translated_message(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    checker = _checker(accounts, shop)
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    headers = {**checker, "Accept-Language": "en"}
    typed = client.post(CODE, json={"code": format_code(ticket.code)}, headers=headers).json()
    assert (typed["admitted"], typed["message"]) == (True, "Admitted")
    digits = list(ticket.code)
    digits[0], digits[1] = digits[1], digits[0]
    if digits[0] == digits[1]:
        digits[0] = str((int(digits[0]) + 1) % 10)
    mistyped = client.post(CODE, json={"code": "".join(digits)}, headers=checker).json()
    assert mistyped["reason"] == reasons.BAD_CHECK_DIGIT
    assert mistyped["message"] == "核销码有误，请检查输入"


def test_phone_lookup_then_redeem_the_chosen_tickets(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    checker = _checker(accounts, shop)
    mine = issue(database, shop.merchant_id, count=2, now=clock(), holder_phone="+8613700001234")
    issue(
        database,
        shop.merchant_id,
        now=clock(),
        ticket_type=FakeTicketType(event_id=2),
        holder_phone="+8613700001234",
    )
    params = {"phone": "13700001234", "event_id": 1}
    listed = client.get("/api/merchant/checkin/phone", params=params, headers=checker).json()
    assert sorted(t["id"] for t in listed) == sorted(t.id for t in mine)
    assert listed[0]["holder_phone"] == "+86137****1234"

    chosen = {"ticket_ids": [mine[0].id], "event_id": 1}
    batch = client.post("/api/merchant/checkin/tickets", json=chosen, headers=checker).json()
    assert (batch["admitted"], batch["rejected"]) == (1, 0)
    left = client.get("/api/merchant/checkin/phone", params=params, headers=checker).json()
    assert [t["id"] for t in left] == [mine[1].id]


def test_backoffice_sees_the_holders_tickets_and_verifies_with_partial_success(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    staff = shop.owner.headers
    tickets = issue(database, shop.merchant_id, count=3, now=clock(), holder_phone="+8613600005678")
    holder = client.get(
        "/api/merchant/checkin/backoffice/holder", params={"code": tickets[0].code}, headers=staff
    ).json()
    assert sorted(t["id"] for t in holder["tickets"]) == sorted(t.id for t in tickets)

    verify = "/api/merchant/checkin/backoffice/verify"
    one = client.post(
        verify, json={"code": tickets[0].code, "ticket_ids": [tickets[0].id]}, headers=staff
    )
    assert one.json()["admitted"] == 1
    both = client.post(
        verify,
        json={"code": tickets[0].code, "ticket_ids": [tickets[0].id, tickets[1].id]},
        headers=staff,
    ).json()
    assert (both["admitted"], both["rejected"]) == (1, 1)
    assert [r["reason"] for r in both["results"]] == [reasons.ALREADY_USED, reasons.ADMITTED]
    rest = client.post(verify, json={"code": tickets[0].code}, headers=staff).json()
    assert [r["ticket"]["id"] for r in rest["results"]] == [tickets[2].id]
    records = client.get(RECORDS, params={"source": "backoffice"}, headers=staff).json()
    assert len(records) == 4


def test_a_checker_restricted_to_events_cannot_check_others(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    (ticket,) = issue(
        database, shop.merchant_id, now=clock(), ticket_type=FakeTicketType(event_id=5)
    )
    path = f"/api/merchant/checkin/checkers/{checker.user_id}/events"
    assert client.put(path, json={"event_ids": [6]}, headers=shop.owner.headers).json()[
        "event_ids"
    ] == [6]
    refused = client.post(CODE, json={"code": ticket.code}, headers=checker.headers).json()
    assert refused["reason"] == reasons.WRONG_EVENT
    client.put(path, json={"event_ids": []}, headers=shop.owner.headers)
    assert client.post(CODE, json={"code": ticket.code}, headers=checker.headers).json()["admitted"]
    assert client.get(path, headers=checker.headers).status_code == 403


def test_records_by_phone_and_checker_and_stats_with_drill_down(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    alice = accounts.staff(shop, MerchantRole.CHECKER)
    bob = accounts.staff(shop, MerchantRole.CHECKER)
    (a_ticket,) = issue(database, shop.merchant_id, now=clock(), holder_phone="+8613500000001")
    (b_ticket,) = issue(database, shop.merchant_id, now=clock(), holder_phone="+8613500000002")
    client.post(CODE, json={"code": a_ticket.code}, headers=alice.headers)
    client.post(CODE, json={"code": a_ticket.code}, headers=alice.headers)
    client.post(CODE, json={"code": b_ticket.code}, headers=bob.headers)

    owner = shop.owner.headers
    by_phone = client.get(RECORDS, params={"phone": "13500000001"}, headers=owner).json()
    assert {r["ticket_id"] for r in by_phone} == {a_ticket.id} and len(by_phone) == 2
    own = client.get(RECORDS, headers=bob.headers).json()
    assert [r["checker_user_id"] for r in own] == [bob.user_id]

    stats = client.get("/api/merchant/checkin/stats/checkers", headers=owner).json()
    by_checker = {s["checker_user_id"]: (s["admitted"], s["rejected"]) for s in stats}
    assert by_checker == {alice.user_id: (1, 1), bob.user_id: (1, 0)}
    alice_stats = next(s for s in stats if s["checker_user_id"] == alice.user_id)
    drilled = client.get(alice_stats["records_url"], headers=owner).json()
    assert len(drilled) == 2
    record = client.get(f"{RECORDS}/{drilled[0]['id']}", headers=owner).json()
    assert record["source"] == "checker" and record["method"] == "code"


def _logged(database: Database) -> int:
    with database.read() as session:
        count = session.scalar(select(func.count()).select_from(CheckinRecord))
    return count or 0


def test_verifying_endpoints_refuse_callers_exactly_as_the_guards_do(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    """The verifying endpoints resolve the token inside their own transaction (one thread hop,
    server.accounts.dependencies.MerchantCall), not through the guard: the same 401s and 403s,
    a freeze or a logout takes effect on the very next request, and a refused caller leaves no
    log row."""
    admin = accounts.platform_admin()
    shop = accounts.merchant()
    checker = _checker(accounts, shop)
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    calls = [
        (SCAN, {"credential": ticket.credential}),
        (CODE, {"code": ticket.code}),
        ("/api/merchant/checkin/tickets", {"ticket_ids": [ticket.id]}),
        ("/api/merchant/checkin/backoffice/verify", {"code": ticket.code}),
    ]

    def refusals(headers: dict[str, str]) -> set[tuple[int, str]]:
        answers = [client.post(path, json=body, headers=headers) for path, body in calls]
        return {(answer.status_code, error_code(answer)) for answer in answers}

    assert refusals({}) == {(401, "unauthorized")}
    assert refusals(auth_headers("not-a-token")) == {(401, "accounts.token_invalid")}
    visitor = accounts.visitor().headers
    assert refusals(visitor) == {(403, "accounts.merchant_required")}
    gate_operator = accounts.staff(shop, MerchantRole.GATE_OPERATOR).headers
    assert refusals(gate_operator) == {(403, "forbidden")}

    frozen = client.post(f"/api/admin/merchants/{shop.merchant_id}/freeze", headers=admin.headers)
    assert frozen.status_code == 200
    assert refusals(checker) == {(403, "accounts.merchant_frozen")}
    assert refusals(shop.owner.headers) == {(403, "accounts.merchant_frozen")}
    client.post(f"/api/admin/merchants/{shop.merchant_id}/unfreeze", headers=admin.headers)
    accounts.set_status(shop.merchant_id, MerchantStatus.FROZEN)
    assert refusals(checker) == {(403, "accounts.merchant_frozen")}
    accounts.set_status(shop.merchant_id, MerchantStatus.ACTIVE)
    assert _logged(database) == 0

    admitted = client.post(SCAN, json={"credential": ticket.credential}, headers=checker)
    assert admitted.json()["admitted"] is True
    assert client.post("/api/auth/logout", headers=checker).status_code == 204
    assert refusals(checker) == {(401, "accounts.token_invalid")}
    assert _logged(database) == 1


def test_another_merchants_ticket_ids_are_not_found(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop, other = accounts.merchant(), accounts.merchant()
    (foreign,) = issue(database, other.merchant_id, now=clock())
    response = client.post(
        "/api/merchant/checkin/tickets",
        json={"ticket_ids": [foreign.id]},
        headers=shop.owner.headers,
    )
    assert response.status_code == 404 and error_code(response) == "tickets.ticket_not_found"
    assert client.get(RECORDS, headers=other.owner.headers).json() == []


@contextmanager
def _uvicorn(app: FastAPI) -> Iterator[str]:
    """``app`` served by a real uvicorn in a thread (its own event loop and worker threads)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


def test_more_concurrent_check_ins_than_worker_threads_all_answer(
    app: FastAPI, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    """Three times as many authenticated requests in flight as the server has worker threads,
    half of them admissions (writes), half reads: every one is answered, none with an error.
    (A request that held the write lock or a connection while waiting for a thread would stall
    the server until the busy timeout turned the waiters into 500s.)"""
    in_flight = 3 * WORKER_THREADS
    shop = accounts.merchant()
    checker = _checker(accounts, shop)
    tickets = issue(database, shop.merchant_id, count=in_flight // 2, now=clock())

    async def fire(base: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=in_flight)
        async with httpx.AsyncClient(base_url=base, headers=checker, limits=limits) as http:
            scans = [http.post(SCAN, json={"credential": t.credential}) for t in tickets]
            reads = [http.get("/api/auth/me") for _ in tickets]
            return await asyncio.gather(*scans, *reads)

    with _uvicorn(app) as base:
        responses = asyncio.run(fire(base))

    assert Counter(response.status_code for response in responses) == {200: in_flight}
    admitted = [r.json()["ticket"]["id"] for r in responses if r.url.path == SCAN]
    assert sorted(admitted) == sorted(t.id for t in tickets)
    with database.read() as session:
        logged = session.scalar(select(func.count()).select_from(CheckinRecord))
    assert logged == len(tickets)


def test_fifty_concurrent_scans_of_one_ticket_through_the_api_admit_it_once(
    app: FastAPI, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    """The one-hop verifying endpoint keeps the allowance under concurrency: 50 scans of one
    single-entry ticket at once through a real uvicorn, one admitted, 49 refused as used, 50
    log rows."""
    shop = accounts.merchant()
    checker = _checker(accounts, shop)
    (ticket,) = issue(database, shop.merchant_id, now=clock())

    async def fire(base: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=base, headers=checker, limits=limits) as http:
            scans = [http.post(SCAN, json={"credential": ticket.credential}) for _ in range(50)]
            return await asyncio.gather(*scans)

    with _uvicorn(app) as base:
        responses = asyncio.run(fire(base))

    assert {response.status_code for response in responses} == {200}
    reasons_given = Counter(response.json()["reason"] for response in responses)
    assert reasons_given == {reasons.ADMITTED: 1, reasons.ALREADY_USED: 49}
    assert _logged(database) == 50
