"""Catalog administration and the public listing over HTTP."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from server.accounts.models import MerchantRole
from server.clock import ManualClock
from tests.server.catalog.builders import create_event, create_ticket_type, on_sale
from tests.server.helpers import AccountFactory, error_code


def test_event_public_flag_defaults_from_the_merchant(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    hidden_shop = accounts.merchant("Private", events_public=False)
    ids = create_event(client, hidden_shop, clock())
    event = client.get(
        f"/api/merchant/events/{ids['event_id']}", headers=hidden_shop.owner.headers
    ).json()
    assert event["public"] is False
    assert client.get(f"/api/catalog/events/{ids['event_id']}").status_code == 404

    public_shop = accounts.merchant("Public")
    shown = create_event(client, public_shop, clock())
    listed = client.get("/api/catalog/events").json()
    assert [e["id"] for e in listed] == [shown["event_id"]]


def test_venue_slug_is_unique_across_merchants(
    client: TestClient, accounts: AccountFactory
) -> None:
    first, second = accounts.merchant(), accounts.merchant()
    body = {"slug": "west-gate", "name": "West"}
    assert client.post("/api/merchant/venues", json=body, headers=first.owner.headers).is_success
    taken = client.post("/api/merchant/venues", json=body, headers=second.owner.headers)
    assert taken.status_code == 409
    assert error_code(taken) == "catalog.venue_slug_taken"


def test_unknown_timezone_is_refused(client: TestClient, accounts: AccountFactory) -> None:
    shop = accounts.merchant()
    response = client.post(
        "/api/merchant/venues",
        json={"slug": "tz", "name": "TZ", "timezone": "Mars/Olympus"},
        headers=shop.owner.headers,
    )
    assert error_code(response) == "catalog.timezone_invalid"


def test_price_and_free_flag_must_agree(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    event_id = create_event(client, shop, clock())["event_id"]
    path = f"/api/merchant/events/{event_id}/ticket-types"
    headers = shop.owner.headers
    free_with_price = {"name": "x", "price_fen": 100, "stock": 1, "is_free": True}
    assert error_code(client.post(path, json=free_with_price, headers=headers)) == (
        "catalog.price_free_mismatch"
    )
    paid_at_zero = {"name": "x", "price_fen": 0, "stock": 1, "is_free": False}
    assert error_code(client.post(path, json=paid_at_zero, headers=headers)) == (
        "catalog.price_free_mismatch"
    )
    half_fen = {"name": "x", "price_fen": 0.5, "stock": 1}
    assert client.post(path, json=half_fen, headers=headers).status_code == 422
    free = create_ticket_type(client, shop, event_id, price_fen=0)
    assert free["is_free"] is True
    one_fen = create_ticket_type(client, shop, event_id, price_fen=1)
    assert one_fen["is_free"] is False


def test_ticket_type_settings_round_trip(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    now = clock()
    made = on_sale(
        client,
        shop,
        now,
        per_order_limit=4,
        hide_remaining=True,
        needs_visit_date=True,
        approval_required=True,
        entries_allowed=2,
        valid_from=(now + timedelta(days=1)).isoformat(),
        valid_until=(now + timedelta(days=2)).isoformat(),
        holder_fields={
            "name": "required",
            "phone": "hidden",
            "custom": [
                {"key": "id_number", "label": "身份证", "kind": "id_number", "required": True}
            ],
        },
    )
    read = client.get(
        f"/api/merchant/ticket-types/{made.ticket_type_id}", headers=shop.owner.headers
    ).json()
    assert read["per_order_limit"] == 4
    assert read["entries_allowed"] == 2
    assert read["zone_ids"] == [made.zone_id]
    assert read["holder_fields"]["custom"][0]["kind"] == "id_number"
    assert read["approval_required"] and read["needs_visit_date"] and read["hide_remaining"]


def test_zone_of_another_venue_is_refused(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    first = create_event(client, shop, clock())
    second = create_event(client, shop, clock())
    response = client.post(
        f"/api/merchant/events/{first['event_id']}/ticket-types",
        json={"name": "x", "price_fen": 1, "stock": 1, "zone_ids": [second["zone_id"]]},
        headers=shop.owner.headers,
    )
    assert error_code(response) == "catalog.zone_wrong_venue"


def test_stock_cannot_drop_below_sold(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    made = on_sale(client, shop, clock(), stock=5)
    visitor = accounts.visitor()
    bought = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}] * 3},
        headers=visitor.headers,
    )
    assert bought.status_code == 201, bought.text
    path = f"/api/merchant/ticket-types/{made.ticket_type_id}"
    response = client.patch(path, json={"stock": 2}, headers=shop.owner.headers)
    assert error_code(response) == "catalog.stock_below_sold"
    assert client.delete(path, headers=shop.owner.headers).status_code == 409


def test_public_listing_hides_remaining_stock_when_asked_and_off_sale_types(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    now = clock()
    made = on_sale(client, shop, now, stock=7, hide_remaining=True)
    create_ticket_type(client, shop, made.event_id, name="Shown", stock=3)
    create_ticket_type(client, shop, made.event_id, name="Disabled", enabled=False)
    create_ticket_type(
        client,
        shop,
        made.event_id,
        name="Later",
        sale_starts_at=(now + timedelta(hours=1)).isoformat(),
    )
    detail = client.get(f"/api/catalog/events/{made.event_id}").json()
    by_name = {t["name"]: t for t in detail["ticket_types"]}
    assert set(by_name) == {"Adult", "Shown"}
    assert by_name["Adult"]["remaining"] is None
    assert by_name["Shown"]["remaining"] == 3
    assert "stock" not in by_name["Adult"] and "sold" not in by_name["Adult"]


def test_checkers_cannot_edit_the_catalog(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    made = on_sale(client, shop, clock())
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    path = f"/api/merchant/events/{made.event_id}"
    assert client.get(path, headers=checker.headers).status_code == 200
    assert client.patch(path, json={"name": "x"}, headers=checker.headers).status_code == 403
