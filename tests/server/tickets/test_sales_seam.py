"""Seam 1 with the real sales package: a paid order's tickets reach the visitor, pass a
checker once, and a refund revokes them for check-in too."""

from __future__ import annotations

from fastapi.testclient import TestClient

from protocol import reasons
from server.accounts.models import MerchantRole
from server.clock import ManualClock
from tests.server.catalog.builders import on_sale
from tests.server.helpers import AccountFactory
from tests.server.tickets.test_qr import decode_png


def test_bought_ticket_is_shown_scanned_once_and_revoked_by_a_refund(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    made = on_sale(client, accounts.merchant(), clock(), price_fen=0, entries_allowed=1)
    visitor = accounts.visitor()
    bought = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}] * 2},
        headers=visitor.headers,
    )
    assert bought.status_code in {200, 201}, bought.text
    order_id = bought.json()[0]["id"]

    codes = client.get(f"/api/tickets/orders/{order_id}/codes", headers=visitor.headers).json()
    assert len(codes["tickets"]) == 2
    mine = client.get("/api/tickets", headers=visitor.headers).json()["pending"]
    first = next(t for t in mine if t["id"] == codes["tickets"][0]["ticket_id"])
    assert (first["event_id"], first["ticket_type_id"]) == (made.event_id, made.ticket_type_id)
    png = client.get(f"/api/tickets/{first['id']}/qr.png", headers=visitor.headers).content
    (scanned,) = decode_png(png)

    checker = accounts.staff(made.merchant, MerchantRole.CHECKER).headers
    scan = "/api/merchant/checkin/scan"
    assert client.post(scan, json={"credential": scanned}, headers=checker).json()["admitted"]

    refund = client.post(
        f"/api/merchant/orders/{order_id}/refund",
        json={"reason": "cancelled"},
        headers=made.merchant.owner.headers,
    )
    assert refund.status_code == 201, refund.text
    second = codes["tickets"][1]
    refused = client.post(scan, json={"credential": second["credential"]}, headers=checker).json()
    assert refused["reason"] == reasons.REVOKED
    after = client.get("/api/tickets", headers=visitor.headers).json()
    assert [t["id"] for t in after["used"]] == [first["id"]]
    assert [t["id"] for t in after["void"]] == [second["ticket_id"]]
