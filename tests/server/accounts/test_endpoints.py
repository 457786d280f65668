"""Platform administration of merchants, self-registration, and staff inside a merchant."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.accounts.models import MerchantRole
from tests.server.helpers import DEFAULT_PASSWORD, AccountFactory, auth_headers, error_code

OPEN_REGISTRATION = {"merchant_self_registration": True}


def _login(client: TestClient, phone: str, password: str) -> str:
    response = client.post("/api/auth/login", json={"phone": phone, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_platform_admin_creates_a_merchant_whose_owner_can_log_in(
    client: TestClient, accounts: AccountFactory
) -> None:
    admin = accounts.platform_admin()
    created = client.post(
        "/api/admin/merchants",
        json={"name": "西湖景区", "owner_phone": "138 0013 8000"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["merchant"]["status"] == "active"
    assert body["merchant"]["events_public"] is True
    assert body["owner_phone"] == "+8613800138000"
    token = _login(client, "+8613800138000", body["generated_password"])
    merchant = client.get("/api/merchant", headers=auth_headers(token)).json()
    assert merchant["name"] == "西湖景区"


@pytest.mark.parametrize("settings_overrides", [{"merchants_public_by_default": False}])
def test_events_public_follows_the_platform_setting_unless_given(
    client: TestClient, accounts: AccountFactory
) -> None:
    admin = accounts.platform_admin()
    default = client.post(
        "/api/admin/merchants",
        json={"name": "A", "owner_phone": "13800000001", "owner_password": "long-enough"},
        headers=admin.headers,
    ).json()
    explicit = client.post(
        "/api/admin/merchants",
        json={"name": "B", "owner_phone": "13800000002", "events_public": True},
        headers=admin.headers,
    ).json()
    assert default["merchant"]["events_public"] is False
    assert default["generated_password"] is None
    assert explicit["merchant"]["events_public"] is True


def test_only_platform_admins_manage_merchants(
    client: TestClient, accounts: AccountFactory
) -> None:
    shop = accounts.merchant()
    visitor = accounts.visitor()
    for headers in (shop.owner.headers, visitor.headers):
        response = client.get("/api/admin/merchants", headers=headers)
        assert response.status_code == 403
    assert client.get("/api/admin/merchants").status_code == 401


def test_edit_and_list_merchants(client: TestClient, accounts: AccountFactory) -> None:
    admin = accounts.platform_admin()
    shop = accounts.merchant("Old name")
    edited = client.patch(
        f"/api/admin/merchants/{shop.merchant_id}",
        json={"name": "New name", "events_public": False, "contact_phone": "13911112222"},
        headers=admin.headers,
    )
    assert edited.status_code == 200
    assert (edited.json()["name"], edited.json()["events_public"]) == ("New name", False)
    assert edited.json()["contact_phone"] == "+8613911112222"
    listed = client.get("/api/admin/merchants", params={"status": "active"}, headers=admin.headers)
    assert [m["id"] for m in listed.json()] == [shop.merchant_id]
    unknown = client.patch("/api/admin/merchants/9999", json={}, headers=admin.headers)
    assert error_code(unknown) == "accounts.merchant_not_found"


def test_freezing_stops_existing_tokens_at_once_and_unfreezing_restores_them(
    client: TestClient, accounts: AccountFactory
) -> None:
    admin = accounts.platform_admin()
    shop = accounts.merchant()
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    assert client.get("/api/merchant", headers=checker.headers).status_code == 200

    frozen = client.post(f"/api/admin/merchants/{shop.merchant_id}/freeze", headers=admin.headers)
    assert frozen.json()["status"] == "frozen"
    for account in (shop.owner, checker):
        refused = client.get("/api/merchant", headers=account.headers)
        assert refused.status_code == 403
        assert error_code(refused) == "accounts.merchant_frozen"
    twice = client.post(f"/api/admin/merchants/{shop.merchant_id}/freeze", headers=admin.headers)
    assert twice.status_code == 409

    client.post(f"/api/admin/merchants/{shop.merchant_id}/unfreeze", headers=admin.headers)
    assert client.get("/api/merchant", headers=checker.headers).status_code == 200


def test_reset_password_replaces_it_and_ends_the_owners_sessions(
    client: TestClient, accounts: AccountFactory
) -> None:
    admin = accounts.platform_admin()
    shop = accounts.merchant()
    reset = client.post(
        f"/api/admin/merchants/{shop.merchant_id}/reset-password", json={}, headers=admin.headers
    )
    assert reset.status_code == 200
    new_password = reset.json()["generated_password"]
    assert client.get("/api/merchant", headers=shop.owner.headers).status_code == 401
    old = client.post(
        "/api/auth/login", json={"phone": shop.owner.phone, "password": DEFAULT_PASSWORD}
    )
    assert old.status_code == 401
    _login(client, shop.owner.phone, new_password)


def test_deleting_hides_the_merchant_and_revokes_its_tokens(
    client: TestClient, accounts: AccountFactory
) -> None:
    admin = accounts.platform_admin()
    shop = accounts.merchant()
    deleted = client.delete(f"/api/admin/merchants/{shop.merchant_id}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (
        client.get(f"/api/admin/merchants/{shop.merchant_id}", headers=admin.headers).status_code
        == 404
    )
    assert client.get("/api/admin/merchants", headers=admin.headers).json() == []
    assert client.get("/api/merchant", headers=shop.owner.headers).status_code == 401
    # the owner is still a person: they can log in, as a visitor
    token = _login(client, shop.owner.phone, DEFAULT_PASSWORD)
    assert client.get("/api/auth/me", headers=auth_headers(token)).json()["merchant_id"] is None


def test_self_registration_is_closed_by_default(
    client: TestClient, accounts: AccountFactory
) -> None:
    visitor = accounts.visitor()
    response = client.post(
        "/api/merchant-applications", json={"name": "Mine"}, headers=visitor.headers
    )
    assert response.status_code == 403
    assert error_code(response) == "accounts.registration_closed"


@pytest.mark.parametrize("settings_overrides", [OPEN_REGISTRATION])
def test_self_registration_waits_for_approval(client: TestClient, accounts: AccountFactory) -> None:
    admin = accounts.platform_admin()
    applicant = accounts.visitor()
    applied = client.post(
        "/api/merchant-applications",
        json={"name": "Mine", "password": "applicant-pass"},
        headers=applicant.headers,
    )
    assert applied.status_code == 201
    merchant_id = applied.json()["id"]
    assert applied.json()["status"] == "pending"
    pending_login = client.post(
        "/api/auth/login", json={"phone": applicant.phone, "password": "applicant-pass"}
    )
    assert error_code(pending_login) == "accounts.merchant_pending"

    queue = client.get("/api/admin/merchants", params={"status": "pending"}, headers=admin.headers)
    assert [m["id"] for m in queue.json()] == [merchant_id]
    client.post(f"/api/admin/merchants/{merchant_id}/approve", headers=admin.headers)
    token = _login(client, applicant.phone, "applicant-pass")
    assert client.get("/api/merchant", headers=auth_headers(token)).json()["status"] == "active"


@pytest.mark.parametrize("settings_overrides", [OPEN_REGISTRATION])
def test_a_rejected_application_keeps_its_reason(
    client: TestClient, accounts: AccountFactory
) -> None:
    admin = accounts.platform_admin()
    applicant = accounts.visitor()
    merchant_id = client.post(
        "/api/merchant-applications", json={"name": "Mine"}, headers=applicant.headers
    ).json()["id"]
    rejected = client.post(
        f"/api/admin/merchants/{merchant_id}/reject",
        json={"reason": "资料不全"},
        headers=admin.headers,
    )
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "资料不全",
    )
    again = client.post(f"/api/admin/merchants/{merchant_id}/approve", headers=admin.headers)
    assert again.status_code == 409


# --- staff ------------------------------------------------------------------------------------


def test_bind_a_checker_by_phone(client: TestClient, accounts: AccountFactory) -> None:
    shop = accounts.merchant()
    person = accounts.visitor()
    bound = client.post(
        "/api/merchant/staff",
        json={"phone": person.phone, "role": "checker"},
        headers=shop.owner.headers,
    )
    assert bound.status_code == 201, bound.text
    assert bound.json()["role"] == "checker"
    assert bound.json()["phone_masked"].count("*") == 4
    token = _login(client, person.phone, DEFAULT_PASSWORD)
    me = client.get("/api/auth/me", headers=auth_headers(token)).json()
    assert (me["merchant_id"], me["role"]) == (shop.merchant_id, "checker")


def test_binding_an_unregistered_phone_says_so(
    client: TestClient, accounts: AccountFactory
) -> None:
    shop = accounts.merchant()
    response = client.post(
        "/api/merchant/staff",
        json={"phone": "13700000000", "role": "checker"},
        headers=shop.owner.headers,
    )
    assert response.status_code == 404
    assert error_code(response) == "accounts.user_not_registered"
    assert response.json()["error"]["detail"] == {"phone": "+8613700000000"}


def test_binding_twice_or_as_owner_is_refused(client: TestClient, accounts: AccountFactory) -> None:
    shop = accounts.merchant()
    person = accounts.visitor()
    body = {"phone": person.phone, "role": "gate_operator"}
    client.post("/api/merchant/staff", json=body, headers=shop.owner.headers)
    twice = client.post("/api/merchant/staff", json=body, headers=shop.owner.headers)
    assert error_code(twice) == "accounts.already_member"
    other = accounts.visitor()
    as_owner = client.post(
        "/api/merchant/staff",
        json={"phone": other.phone, "role": "owner"},
        headers=shop.owner.headers,
    )
    assert error_code(as_owner) == "accounts.role_not_assignable"


def test_list_change_and_unbind_staff(client: TestClient, accounts: AccountFactory) -> None:
    shop = accounts.merchant()
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    staff = client.get("/api/merchant/staff", headers=shop.owner.headers).json()
    assert [s["role"] for s in staff] == ["owner", "checker"]
    owner_id, checker_id = staff[0]["id"], staff[1]["id"]

    changed = client.patch(
        f"/api/merchant/staff/{checker_id}",
        json={"role": "gate_operator"},
        headers=shop.owner.headers,
    )
    assert changed.json()["role"] == "gate_operator"
    owner_change = client.patch(
        f"/api/merchant/staff/{owner_id}", json={"role": "checker"}, headers=shop.owner.headers
    )
    assert error_code(owner_change) == "accounts.owner_is_fixed"
    assert (
        client.delete(f"/api/merchant/staff/{owner_id}", headers=shop.owner.headers).status_code
        == 409
    )

    assert (
        client.delete(f"/api/merchant/staff/{checker_id}", headers=shop.owner.headers).status_code
        == 204
    )
    assert client.get("/api/merchant", headers=checker.headers).status_code == 401


def test_checkers_cannot_manage_staff(client: TestClient, accounts: AccountFactory) -> None:
    shop = accounts.merchant()
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    assert client.get("/api/merchant/staff", headers=checker.headers).status_code == 403
    admin = accounts.staff(shop, MerchantRole.ADMIN)
    assert client.get("/api/merchant/staff", headers=admin.headers).status_code == 200


def test_merchant_pages_need_a_merchant_bound_token(
    client: TestClient, accounts: AccountFactory
) -> None:
    visitor = accounts.visitor()
    response = client.get("/api/merchant", headers=visitor.headers)
    assert response.status_code == 403
    assert error_code(response) == "accounts.merchant_required"
