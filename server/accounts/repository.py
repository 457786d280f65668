"""Every SQL statement about accounts. Functions take the session first; writes flush so that
constraint violations surface inside the request that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.orm import Session, joinedload

from server.accounts.models import (
    AccessToken,
    Membership,
    Merchant,
    MerchantRole,
    MerchantStatus,
    OneTimeCode,
    PasswordFailure,
    User,
)
from server.db import hold_advisory_lock
from server.tenancy import get_owned, scoped_select

# --- users -------------------------------------------------------------------------------------


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_phone(session: Session, phone: str) -> User | None:
    return session.scalar(select(User).where(User.phone == phone))


def add_user(
    session: Session,
    *,
    phone: str,
    now: datetime,
    password_hash: str | None = None,
    display_name: str = "",
    is_platform_admin: bool = False,
) -> User:
    user = User(
        phone=phone,
        password_hash=password_hash,
        display_name=display_name,
        is_platform_admin=is_platform_admin,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


# --- merchants ---------------------------------------------------------------------------------


def get_merchant(session: Session, merchant_id: int) -> Merchant | None:
    """A merchant that has not been deleted."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None or merchant.deleted_at is not None:
        return None
    return merchant


def list_merchants(session: Session, status: MerchantStatus | None = None) -> Sequence[Merchant]:
    query = select(Merchant).where(Merchant.deleted_at.is_(None)).order_by(Merchant.id)
    if status is not None:
        query = query.where(Merchant.status == status)
    return session.scalars(query).all()


def add_merchant(
    session: Session,
    *,
    name: str,
    contact_name: str,
    contact_phone: str,
    status: MerchantStatus,
    events_public: bool,
    now: datetime,
) -> Merchant:
    merchant = Merchant(
        name=name,
        contact_name=contact_name,
        contact_phone=contact_phone,
        status=status,
        events_public=events_public,
        created_at=now,
        updated_at=now,
    )
    session.add(merchant)
    session.flush()
    return merchant


# --- memberships (merchant-owned) --------------------------------------------------------------


def get_membership(session: Session, merchant_id: int, membership_id: int) -> Membership | None:
    return get_owned(session, Membership, merchant_id, membership_id)


def get_membership_of_user(session: Session, merchant_id: int, user_id: int) -> Membership | None:
    return session.scalar(
        scoped_select(Membership, merchant_id).where(Membership.user_id == user_id)
    )


def list_memberships(session: Session, merchant_id: int) -> Sequence[Membership]:
    query = (
        scoped_select(Membership, merchant_id)
        .options(joinedload(Membership.user))
        .order_by(Membership.id)
    )
    return session.scalars(query).all()


def list_memberships_of_user(session: Session, user_id: int) -> Sequence[Membership]:
    """The user's memberships in merchants that have not been deleted, with the merchant."""
    query = (
        select(Membership)
        .join(Merchant, Merchant.id == Membership.merchant_id)
        .where(Membership.user_id == user_id, Merchant.deleted_at.is_(None))
        .options(joinedload(Membership.merchant))
        .order_by(Membership.merchant_id)
    )
    return session.scalars(query).all()


def get_owner_membership(session: Session, merchant_id: int) -> Membership | None:
    return session.scalar(
        scoped_select(Membership, merchant_id)
        .where(Membership.role == MerchantRole.OWNER)
        .options(joinedload(Membership.user))
    )


def add_membership(
    session: Session, *, merchant_id: int, user_id: int, role: MerchantRole, now: datetime
) -> Membership:
    membership = Membership(merchant_id=merchant_id, user_id=user_id, role=role, created_at=now)
    session.add(membership)
    session.flush()
    return membership


def delete_membership(session: Session, membership: Membership) -> None:
    session.delete(membership)
    session.flush()


# --- access tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveToken:
    """What one query knows about a presented token: its user and its merchant binding, as
    plain values (``role`` is None when the bound membership is gone)."""

    token_id: int
    user_id: int
    phone: str
    is_platform_admin: bool
    merchant_id: int | None
    role: MerchantRole | None
    merchant_status: MerchantStatus | None
    merchant_deleted_at: datetime | None


def add_token(
    session: Session,
    *,
    token_hash: str,
    user_id: int,
    merchant_id: int | None,
    now: datetime,
    expires_at: datetime,
) -> AccessToken:
    token = AccessToken(
        token_hash=token_hash,
        user_id=user_id,
        merchant_id=merchant_id,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token


#: Built once: every authenticated request runs it.
_LIVE_TOKEN = (
    select(
        AccessToken.id,
        User.id,
        User.phone,
        User.is_platform_admin,
        AccessToken.merchant_id,
        Membership.role,
        Merchant.status,
        Merchant.deleted_at,
    )
    .join(User, User.id == AccessToken.user_id)
    .outerjoin(
        Membership,
        and_(
            Membership.merchant_id == AccessToken.merchant_id,
            Membership.user_id == AccessToken.user_id,
        ),
    )
    .outerjoin(Merchant, Merchant.id == AccessToken.merchant_id)
    .where(
        AccessToken.token_hash == bindparam("token_hash"),
        AccessToken.revoked_at.is_(None),
        AccessToken.expires_at > bindparam("now", type_=AccessToken.expires_at.type),
    )
)


def find_live_token(session: Session, token_hash: str, now: datetime) -> LiveToken | None:
    """The unexpired, unrevoked token with this hash, its user and (if bound) its membership's
    role and merchant's state, in one round trip of plain columns. Every authenticated request
    runs it: on the session's connection, a Core execution skips the ORM's statement handling
    (about half its Python cost)."""
    row = session.connection().execute(_LIVE_TOKEN, {"token_hash": token_hash, "now": now}).first()
    return None if row is None else LiveToken(*row)


def revoke_token(session: Session, token_id: int, now: datetime) -> None:
    session.execute(
        update(AccessToken)
        .where(AccessToken.id == token_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_tokens(
    session: Session, now: datetime, *, user_id: int | None = None, merchant_id: int | None = None
) -> int:
    """Revoke every live token of a user, of a merchant, or of a user within a merchant."""
    if user_id is None and merchant_id is None:
        raise ValueError("name a user, a merchant or both")
    query = update(AccessToken).where(AccessToken.revoked_at.is_(None)).values(revoked_at=now)
    if user_id is not None:
        query = query.where(AccessToken.user_id == user_id)
    if merchant_id is not None:
        query = query.where(AccessToken.merchant_id == merchant_id)
    return session.execute(query).rowcount  # type: ignore[attr-defined, no-any-return]


# --- one-time codes ----------------------------------------------------------------------------


def lock_code_limits(session: Session, *, phone: str, client_ip: str) -> None:
    """Hold the phone's and then the client address's sending turn until the transaction ends,
    so that counting the codes in a window and adding one are one step: concurrent requests for
    one phone (or from one address) are decided one after the other and a limit holds exactly.

    PostgreSQL: transaction-scoped advisory locks, taken in a fixed order (phone, then address:
    a transaction holding an address lock waits for nothing, so no deadlock). Each statement
    after them sees every code committed before the lock was granted (read committed). SQLite:
    nothing to do, a write transaction already holds the database's write lock
    (``BEGIN IMMEDIATE``, see :mod:`server.db`). Either way the turn lasts until the commit,
    so hold it for the count and the insert only: the SMS goes out after the commit
    (:func:`server.accounts.auth.request_login_code`).
    """
    hold_advisory_lock(session, "otp.phone", phone)
    hold_advisory_lock(session, "otp.ip", client_ip)


def count_codes_for_phone_since(session: Session, phone: str, since: datetime) -> int:
    query = select(func.count()).where(OneTimeCode.phone == phone, OneTimeCode.created_at > since)
    return session.scalar(query) or 0


def count_codes_for_ip_since(session: Session, client_ip: str, since: datetime) -> int:
    query = select(func.count()).where(
        OneTimeCode.client_ip == client_ip, OneTimeCode.created_at > since
    )
    return session.scalar(query) or 0


def oldest_code_time_since(
    session: Session, *, since: datetime, phone: str | None = None, client_ip: str | None = None
) -> datetime | None:
    """The earliest code in a window, to say when the window frees a slot."""
    query = select(func.min(OneTimeCode.created_at)).where(OneTimeCode.created_at > since)
    if phone is not None:
        query = query.where(OneTimeCode.phone == phone)
    if client_ip is not None:
        query = query.where(OneTimeCode.client_ip == client_ip)
    return session.scalar(query)


def add_code(
    session: Session,
    *,
    phone: str,
    client_ip: str,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
) -> OneTimeCode:
    code = OneTimeCode(
        phone=phone, client_ip=client_ip, code_hash=code_hash, created_at=now, expires_at=expires_at
    )
    session.add(code)
    session.flush()
    return code


def latest_live_code(session: Session, phone: str, now: datetime) -> OneTimeCode | None:
    """The newest code for the phone that is unused and unexpired (older ones stay valid only
    until a newer one is sent)."""
    query = (
        select(OneTimeCode)
        .where(
            OneTimeCode.phone == phone,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def count_failed_attempt(session: Session, code_id: int, max_attempts: int) -> bool:
    """Count one wrong guess atomically; False when the code had no guesses left."""
    result = session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == code_id, OneTimeCode.failed_attempts < max_attempts)
        .values(failed_attempts=OneTimeCode.failed_attempts + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def use_code(session: Session, code_id: int, now: datetime) -> bool:
    """Mark the code used; False when a concurrent request used it first."""
    result = session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == code_id, OneTimeCode.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- password failures -------------------------------------------------------------------------


def add_password_failure(session: Session, phone: str, now: datetime) -> None:
    session.add(PasswordFailure(phone=phone, at=now))
    session.flush()


def count_password_failures_since(session: Session, phone: str, since: datetime) -> int:
    query = select(func.count()).where(PasswordFailure.phone == phone, PasswordFailure.at > since)
    return session.scalar(query) or 0


def clear_password_failures(session: Session, phone: str) -> None:
    session.execute(delete(PasswordFailure).where(PasswordFailure.phone == phone))
