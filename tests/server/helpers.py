"""Helpers for server tests: people with tokens (:class:`AccountFactory`), auth headers, and
reading the error shape. The ``accounts`` fixture in ``conftest.py`` hands out a factory."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from server.accounts import auth, credentials
from server.accounts import repository as accounts_repo
from server.accounts.models import Membership, MerchantRole, MerchantStatus
from server.clock import ManualClock
from server.db import Database
from server.settings import Settings

DEFAULT_PASSWORD = "password-123"


@lru_cache(maxsize=1)
def default_password_hash() -> str:
    """Argon2 is slow on purpose; hash the shared test password once per process."""
    return credentials.hash_password(DEFAULT_PASSWORD)


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Account:
    user_id: int
    phone: str
    token: str
    merchant_id: int | None = None
    role: MerchantRole | None = None

    @property
    def headers(self) -> dict[str, str]:
        return auth_headers(self.token)


@dataclass(frozen=True)
class MerchantAccount:
    merchant_id: int
    name: str
    owner: Account


class AccountFactory:
    """Makes users, merchants and memberships directly in the database and issues tokens."""

    _phones = itertools.count(1)

    def __init__(self, database: Database, settings: Settings, clock: ManualClock) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock

    def new_phone(self) -> str:
        return f"+86139{next(self._phones):08d}"

    def user(self, *, phone: str | None = None, platform_admin: bool = False) -> tuple[int, str]:
        phone = phone or self.new_phone()
        with self.database.sessions.begin() as session:
            user = accounts_repo.add_user(
                session,
                phone=phone,
                now=self.clock(),
                password_hash=default_password_hash(),
                is_platform_admin=platform_admin,
            )
            return user.id, user.phone

    def token(self, user_id: int, merchant_id: int | None = None) -> Account:
        """A token for the user, bound to their membership in ``merchant_id`` if given."""
        with self.database.sessions.begin() as session:
            user = accounts_repo.get_user(session, user_id)
            assert user is not None
            membership: Membership | None = None
            if merchant_id is not None:
                membership = accounts_repo.get_membership_of_user(session, merchant_id, user_id)
                assert membership is not None, "not a member"
            issued = auth.issue_token(session, self.settings, user, membership, self.clock())
            return Account(user.id, user.phone, issued.token, issued.merchant_id, issued.role)

    def platform_admin(self) -> Account:
        user_id, _ = self.user(platform_admin=True)
        return self.token(user_id)

    def visitor(self, phone: str | None = None) -> Account:
        user_id, _ = self.user(phone=phone)
        return self.token(user_id)

    def merchant(
        self,
        name: str | None = None,
        *,
        status: MerchantStatus = MerchantStatus.ACTIVE,
        events_public: bool = True,
    ) -> MerchantAccount:
        name = name or f"Merchant {uuid.uuid4().hex[:6]}"
        owner_id, owner_phone = self.user()
        with self.database.sessions.begin() as session:
            merchant = accounts_repo.add_merchant(
                session,
                name=name,
                contact_name="",
                contact_phone=owner_phone,
                status=MerchantStatus.ACTIVE,
                events_public=events_public,
                now=self.clock(),
            )
            accounts_repo.add_membership(
                session,
                merchant_id=merchant.id,
                user_id=owner_id,
                role=MerchantRole.OWNER,
                now=self.clock(),
            )
            merchant_id = merchant.id
        owner = self.token(owner_id, merchant_id)
        if status is not MerchantStatus.ACTIVE:
            self.set_status(merchant_id, status)
        return MerchantAccount(merchant_id, name, owner)

    def staff(self, merchant: MerchantAccount, role: MerchantRole) -> Account:
        user_id, _ = self.user()
        with self.database.sessions.begin() as session:
            accounts_repo.add_membership(
                session,
                merchant_id=merchant.merchant_id,
                user_id=user_id,
                role=role,
                now=self.clock(),
            )
        return self.token(user_id, merchant.merchant_id)

    def set_status(self, merchant_id: int, status: MerchantStatus) -> None:
        with self.database.sessions.begin() as session:
            merchant = accounts_repo.get_merchant(session, merchant_id)
            assert merchant is not None
            merchant.status = status


def error_code(response: Any) -> str:
    """The stable error code of an error response (fails the test if it is not one)."""
    body = response.json()
    assert set(body) == {"error"}, body
    code: str = body["error"]["code"]
    return code
