"""Login by one-time code and by password; tokens; rate limits and lockouts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from server.accounts.models import MerchantRole, MerchantStatus
from server.clock import ManualClock
from server.sms import OutboxSmsSender
from tests.server.helpers import DEFAULT_PASSWORD, AccountFactory, auth_headers, error_code

PHONE = "13800138000"
E164 = "+8613800138000"


def _code_from(outbox: OutboxSmsSender, phone: str = E164) -> str:
    message = outbox.last_to(phone)
    assert message is not None
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match is not None, message.text
    return match.group(1)


def test_code_login_registers_the_phone_and_returns_a_working_token(
    client: TestClient, sms_outbox: OutboxSmsSender
) -> None:
    sent = client.post("/api/auth/code", json={"phone": PHONE})
    assert sent.status_code == 202
    assert sent.json() == {"phone": E164, "expires_in": 300, "resend_after": 60}

    login = client.post(
        "/api/auth/code/verify", json={"phone": PHONE, "code": _code_from(sms_outbox)}
    )
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["user"]["phone"] == E164
    assert body["merchant_id"] is None
    me = client.get("/api/auth/me", headers=auth_headers(body["access_token"]))
    assert me.json()["user"]["id"] == body["user"]["id"]


def test_sms_text_is_in_the_requested_language(
    client: TestClient, sms_outbox: OutboxSmsSender
) -> None:
    client.post("/api/auth/code", json={"phone": PHONE}, headers={"Accept-Language": "en"})
    message = sms_outbox.last_to(E164)
    assert message is not None and message.text.startswith("[Admit] Your login code is")


def test_a_code_works_once(client: TestClient, sms_outbox: OutboxSmsSender) -> None:
    client.post("/api/auth/code", json={"phone": PHONE})
    body = {"phone": PHONE, "code": _code_from(sms_outbox)}
    assert client.post("/api/auth/code/verify", json=body).status_code == 200
    again = client.post("/api/auth/code/verify", json=body)
    assert again.status_code == 401
    assert error_code(again) == "accounts.code_invalid"


def test_an_expired_code_is_refused(
    client: TestClient, sms_outbox: OutboxSmsSender, clock: ManualClock
) -> None:
    client.post("/api/auth/code", json={"phone": PHONE})
    clock.advance(timedelta(minutes=5, seconds=1))
    response = client.post(
        "/api/auth/code/verify", json={"phone": PHONE, "code": _code_from(sms_outbox)}
    )
    assert error_code(response) == "accounts.code_invalid"


def test_a_code_is_only_valid_for_its_phone(
    client: TestClient, sms_outbox: OutboxSmsSender
) -> None:
    client.post("/api/auth/code", json={"phone": PHONE})
    client.post("/api/auth/code", json={"phone": "13900139000"})
    stolen = {"phone": "13900139000", "code": _code_from(sms_outbox, E164)}
    assert client.post("/api/auth/code/verify", json=stolen).status_code == 401


def test_wrong_guesses_burn_the_code(client: TestClient, sms_outbox: OutboxSmsSender) -> None:
    client.post("/api/auth/code", json={"phone": PHONE})
    right = _code_from(sms_outbox)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        response = client.post("/api/auth/code/verify", json={"phone": PHONE, "code": wrong})
        assert error_code(response) == "accounts.code_invalid"
    locked = client.post("/api/auth/code/verify", json={"phone": PHONE, "code": right})
    assert locked.status_code == 429
    assert error_code(locked) == "accounts.code_locked"
    assert int(locked.headers["Retry-After"]) > 0


def test_codes_are_limited_per_minute_and_per_day(client: TestClient, clock: ManualClock) -> None:
    assert client.post("/api/auth/code", json={"phone": PHONE}).status_code == 202
    too_soon = client.post("/api/auth/code", json={"phone": PHONE})
    assert too_soon.status_code == 429
    assert error_code(too_soon) == "accounts.code_too_soon"
    assert too_soon.headers["Retry-After"] == "61"
    for _ in range(9):
        clock.advance(timedelta(seconds=61))
        assert client.post("/api/auth/code", json={"phone": PHONE}).status_code == 202
    clock.advance(timedelta(seconds=61))
    eleventh = client.post("/api/auth/code", json={"phone": PHONE})
    assert eleventh.status_code == 429
    assert error_code(eleventh) == "rate_limited"
    clock.advance(timedelta(days=1))
    assert client.post("/api/auth/code", json={"phone": PHONE}).status_code == 202


def test_codes_are_limited_per_client_address(client: TestClient) -> None:
    for number in range(30):
        response = client.post("/api/auth/code", json={"phone": f"+86137{number:08d}"})
        assert response.status_code == 202
    refused = client.post("/api/auth/code", json={"phone": "+8613799999999"})
    assert refused.status_code == 429


def test_an_invalid_phone_is_a_clear_422(client: TestClient) -> None:
    response = client.post("/api/auth/code", json={"phone": "12345"})
    assert response.status_code == 422
    assert error_code(response) == "phone_invalid"


def test_password_login_binds_the_only_membership(
    client: TestClient, accounts: AccountFactory
) -> None:
    shop = accounts.merchant("Shop")
    response = client.post(
        "/api/auth/login", json={"phone": shop.owner.phone, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["merchant_id"] == shop.merchant_id
    assert response.json()["role"] == "owner"


def test_wrong_password_and_unknown_phone_look_the_same(
    client: TestClient, accounts: AccountFactory
) -> None:
    visitor = accounts.visitor()
    wrong = client.post("/api/auth/login", json={"phone": visitor.phone, "password": "nope"})
    unknown = client.post("/api/auth/login", json={"phone": "13700000000", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert error_code(wrong) == error_code(unknown) == "accounts.login_failed"


def test_password_guessing_locks_the_phone(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> None:
    visitor = accounts.visitor()
    for _ in range(10):
        client.post("/api/auth/login", json={"phone": visitor.phone, "password": "guess"})
    right = {"phone": visitor.phone, "password": DEFAULT_PASSWORD}
    locked = client.post("/api/auth/login", json=right)
    assert locked.status_code == 429
    assert error_code(locked) == "accounts.password_locked"
    clock.advance(timedelta(minutes=16))
    assert client.post("/api/auth/login", json=right).status_code == 200


def test_a_user_with_several_merchants_chooses_one(
    client: TestClient, accounts: AccountFactory
) -> None:
    first = accounts.merchant("First")
    second = accounts.merchant("Second")
    client.post(
        "/api/merchant/staff",
        json={"phone": first.owner.phone, "role": "checker"},
        headers=second.owner.headers,
    )
    credentials = {"phone": first.owner.phone, "password": DEFAULT_PASSWORD}
    unbound = client.post("/api/auth/login", json=credentials).json()
    assert unbound["merchant_id"] is None
    assert {m["merchant_id"] for m in unbound["memberships"]} == {
        first.merchant_id,
        second.merchant_id,
    }
    bound = client.post("/api/auth/login", json={**credentials, "merchant_id": second.merchant_id})
    assert (bound.json()["merchant_id"], bound.json()["role"]) == (second.merchant_id, "checker")
    switched = client.post(
        "/api/auth/switch",
        json={"merchant_id": first.merchant_id},
        headers=auth_headers(unbound["access_token"]),
    )
    assert switched.json()["role"] == "owner"
    old = client.get("/api/auth/me", headers=auth_headers(unbound["access_token"]))
    assert old.status_code == 401


def test_login_for_a_merchant_you_do_not_belong_to_is_forbidden(
    client: TestClient, accounts: AccountFactory
) -> None:
    other = accounts.merchant("Other")
    visitor = accounts.visitor()
    response = client.post(
        "/api/auth/login",
        json={
            "phone": visitor.phone,
            "password": DEFAULT_PASSWORD,
            "merchant_id": other.merchant_id,
        },
    )
    assert response.status_code == 403
    assert error_code(response) == "accounts.not_a_member"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (MerchantStatus.FROZEN, "accounts.merchant_frozen"),
        (MerchantStatus.PENDING, "accounts.merchant_pending"),
        (MerchantStatus.REJECTED, "accounts.merchant_rejected"),
    ],
)
def test_staff_of_a_merchant_that_is_not_active_cannot_log_in(
    client: TestClient, accounts: AccountFactory, status: MerchantStatus, code: str
) -> None:
    shop = accounts.merchant("Shop", status=status)
    response = client.post(
        "/api/auth/login", json={"phone": shop.owner.phone, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    assert error_code(response) == code


def test_code_login_of_a_frozen_merchants_checker_falls_back_to_a_visitor_token(
    client: TestClient, accounts: AccountFactory, sms_outbox: OutboxSmsSender
) -> None:
    shop = accounts.merchant("Shop")
    checker = accounts.staff(shop, MerchantRole.CHECKER)
    accounts.set_status(shop.merchant_id, MerchantStatus.FROZEN)
    client.post("/api/auth/code", json={"phone": checker.phone})
    login = client.post(
        "/api/auth/code/verify",
        json={"phone": checker.phone, "code": _code_from(sms_outbox, checker.phone)},
    )
    assert login.status_code == 200
    assert login.json()["merchant_id"] is None


def test_tokens_expire(client: TestClient, accounts: AccountFactory, clock: ManualClock) -> None:
    visitor = accounts.visitor()
    assert client.get("/api/auth/me", headers=visitor.headers).status_code == 200
    clock.advance(timedelta(days=7, seconds=1))
    expired = client.get("/api/auth/me", headers=visitor.headers)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == "Bearer"
    assert error_code(expired) == "accounts.token_invalid"


def test_logout_revokes_only_that_token(client: TestClient, accounts: AccountFactory) -> None:
    visitor = accounts.visitor()
    other_device = accounts.token(visitor.user_id)
    assert client.post("/api/auth/logout", headers=visitor.headers).status_code == 204
    assert client.get("/api/auth/me", headers=visitor.headers).status_code == 401
    assert client.get("/api/auth/me", headers=other_device.headers).status_code == 200


def test_changing_the_password_ends_every_session(
    client: TestClient, accounts: AccountFactory
) -> None:
    visitor = accounts.visitor()
    wrong = client.post(
        "/api/auth/password",
        json={"current_password": "nope", "new_password": "a-new-password"},
        headers=visitor.headers,
    )
    assert error_code(wrong) == "accounts.password_wrong"
    changed = client.post(
        "/api/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a-new-password"},
        headers=visitor.headers,
    )
    assert changed.status_code == 204
    assert client.get("/api/auth/me", headers=visitor.headers).status_code == 401
    login = {"phone": visitor.phone, "password": "a-new-password"}
    assert client.post("/api/auth/login", json=login).status_code == 200


def test_a_garbage_token_is_401_not_a_crash(client: TestClient) -> None:
    response = client.get("/api/auth/me", headers=auth_headers("adm_not-a-token"))
    assert response.status_code == 401
    assert client.get("/api/auth/me").status_code == 401
