"""The tickets API: a visitor's own tickets, staff views, QR images, all codes, keys."""

from __future__ import annotations

from fastapi.testclient import TestClient

from protocol.codes import format_code
from server.accounts.models import MerchantRole
from server.clock import ManualClock
from server.db import Database
from tests.server.helpers import AccountFactory, error_code
from tests.server.tickets.orders import issue
from tests.server.tickets.test_qr import decode_png


def test_my_tickets_lists_only_my_pending_tickets(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    me, someone = accounts.visitor(), accounts.visitor()
    mine = issue(database, shop.merchant_id, count=2, visitor_user_id=me.user_id, now=clock())
    issue(database, shop.merchant_id, visitor_user_id=someone.user_id, now=clock())

    body = client.get("/api/tickets", headers=me.headers).json()
    assert sorted(t["id"] for t in body["pending"]) == sorted(t.id for t in mine)
    assert body["used"] == [] and body["void"] == []
    first = body["pending"][0]
    assert first["code_display"] == format_code(first["code"])
    assert first["state"] == "pending"


def test_a_visitor_cannot_see_someone_elses_ticket(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    owner, stranger = accounts.visitor(), accounts.visitor()
    (ticket,) = issue(database, shop.merchant_id, visitor_user_id=owner.user_id, now=clock())
    for path in (
        f"/api/tickets/{ticket.id}",
        f"/api/tickets/{ticket.id}/qr.png",
        f"/api/tickets/orders/{ticket.order_id}/codes",
    ):
        assert client.get(path, headers=owner.headers).status_code == 200
        response = client.get(path, headers=stranger.headers)
        assert response.status_code == 404, path
        assert error_code(response).endswith("not_found")


def test_the_qr_png_decodes_to_the_credential(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    visitor = accounts.visitor()
    (ticket,) = issue(database, shop.merchant_id, visitor_user_id=visitor.user_id, now=clock())
    response = client.get(
        f"/api/tickets/{ticket.id}/qr.png", params={"scale": 5}, headers=visitor.headers
    )
    assert response.headers["content-type"] == "image/png"
    assert decode_png(response.content) == [ticket.credential]

    svg = client.get(f"/api/tickets/{ticket.id}/qr.svg", headers=visitor.headers)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    too_big = client.get(
        f"/api/tickets/{ticket.id}/qr.png", params={"scale": 1000}, headers=visitor.headers
    )
    assert too_big.status_code == 422


def test_all_codes_of_an_order(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    visitor = accounts.visitor()
    tickets = issue(
        database, shop.merchant_id, count=3, visitor_user_id=visitor.user_id, now=clock()
    )
    order_id = tickets[0].order_id
    mine = client.get(f"/api/tickets/orders/{order_id}/codes", headers=visitor.headers).json()
    staff = client.get(
        f"/api/merchant/tickets/orders/{order_id}/codes", headers=shop.owner.headers
    ).json()
    assert mine == staff
    assert [t["code"] for t in mine["tickets"]] == [t.code for t in tickets]


def test_staff_list_and_filter_by_phone(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    (wanted,) = issue(database, shop.merchant_id, now=clock(), holder_phone="+8613900001111")
    issue(database, shop.merchant_id, now=clock(), holder_phone="+8613900002222")
    found = client.get(
        "/api/merchant/tickets", params={"phone": "139 0000 1111"}, headers=checker.headers
    ).json()
    assert [t["id"] for t in found] == [wanted.id]


def test_a_manager_revokes_and_a_checker_may_not(
    client: TestClient, database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    body = {"ticket_ids": [ticket.id], "reason": "lost"}
    assert (
        client.post("/api/merchant/tickets/revoke", json=body, headers=checker.headers).status_code
        == 403
    )
    response = client.post("/api/merchant/tickets/revoke", json=body, headers=shop.owner.headers)
    assert response.json() == {"revoked": [ticket.id]}
    detail = client.get(f"/api/merchant/tickets/{ticket.id}", headers=shop.owner.headers).json()
    assert (detail["status"], detail["state"]) == ("revoked", "void")


def test_key_rotation_endpoints(client: TestClient, accounts: AccountFactory) -> None:
    shop = accounts.merchant()
    headers = shop.owner.headers
    assert [
        k["key_id"]
        for k in client.get("/api/merchant/tickets/signing-keys", headers=headers).json()
    ] == [1]
    rotated = client.post("/api/merchant/tickets/signing-keys/rotate", headers=headers)
    assert rotated.status_code == 201 and rotated.json()["key_id"] == 2
    active = client.post("/api/merchant/tickets/signing-keys/2/retire", headers=headers)
    assert error_code(active) == "tickets.key_active"
    retired = client.post("/api/merchant/tickets/signing-keys/1/retire", headers=headers)
    assert retired.json() == {"key_id": 1, "resigned_tickets": 0}
    states = {
        k["key_id"]: k["state"]
        for k in client.get("/api/merchant/tickets/signing-keys", headers=headers).json()
    }
    assert states == {1: "retired", 2: "active"}
    assert "private_key" not in rotated.json()
