"""Rules for merchants (platform sub-accounts) and their staff.

Merchant lifecycle::

    pending --approve--> active <--freeze/unfreeze--> frozen
    pending --reject---> rejected
    any     --delete---> (deleted_at set; hidden everywhere, tokens revoked)

Only an active, undeleted merchant's members can use their tokens; the check runs on every
request (:func:`server.accounts.auth.resolve_token`), so freezing takes effect at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from server.accounts import credentials
from server.accounts import messages as _messages  # noqa: F401  (registers the texts)
from server.accounts import repository as repo
from server.accounts.auth import set_password
from server.accounts.models import Membership, Merchant, MerchantRole, MerchantStatus, User
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.phones import normalize_phone
from server.settings import Settings

#: Roles a manager may give to staff; the owner is set when the merchant is created.
ASSIGNABLE_ROLES = frozenset({MerchantRole.ADMIN, MerchantRole.CHECKER, MerchantRole.GATE_OPERATOR})


@dataclass(frozen=True)
class MerchantWithOwner:
    merchant: Merchant
    owner: User
    generated_password: str | None


@dataclass(frozen=True)
class PasswordResetResult:
    owner: User
    generated_password: str | None


# --- platform admin: merchants ------------------------------------------------------------------


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = repo.get_merchant(session, merchant_id)
    if merchant is None:
        raise NotFound("accounts.merchant_not_found")
    return merchant


def list_merchants(session: Session, status: MerchantStatus | None) -> Sequence[Merchant]:
    return repo.list_merchants(session, status)


def create_merchant(
    session: Session,
    settings: Settings,
    *,
    name: str,
    owner_phone: str,
    owner_password: str | None,
    contact_name: str,
    events_public: bool | None,
    now: datetime,
) -> MerchantWithOwner:
    """A platform admin opens an active merchant whose owner logs in with ``owner_phone``.

    The owner is an existing user with that phone or a new one. A password given here replaces
    theirs; without one, an owner who has no password gets a generated one (returned once).
    """
    phone = normalize_phone(owner_phone)
    merchant = repo.add_merchant(
        session,
        name=name,
        contact_name=contact_name,
        contact_phone=phone,
        status=MerchantStatus.ACTIVE,
        events_public=(
            settings.merchants_public_by_default if events_public is None else events_public
        ),
        now=now,
    )
    owner = repo.get_user_by_phone(session, phone) or repo.add_user(session, phone=phone, now=now)
    generated = None
    if owner_password is None and owner.password_hash is None:
        generated = owner_password = credentials.new_password()
    if owner_password is not None:
        set_password(session, owner, owner_password, now)
    repo.add_membership(
        session, merchant_id=merchant.id, user_id=owner.id, role=MerchantRole.OWNER, now=now
    )
    return MerchantWithOwner(merchant, owner, generated)


def apply_for_merchant(
    session: Session,
    settings: Settings,
    *,
    applicant_user_id: int,
    name: str,
    contact_name: str,
    password: str | None,
    now: datetime,
) -> Merchant:
    """Self-registration: a logged-in user (their phone proven by a code) applies; the merchant
    waits as pending until a platform admin approves or rejects it."""
    if not settings.merchant_self_registration:
        raise Forbidden("accounts.registration_closed")
    applicant = repo.get_user(session, applicant_user_id)
    if applicant is None:
        raise NotFound()
    merchant = repo.add_merchant(
        session,
        name=name,
        contact_name=contact_name,
        contact_phone=applicant.phone,
        status=MerchantStatus.PENDING,
        events_public=settings.merchants_public_by_default,
        now=now,
    )
    if password is not None:
        applicant.password_hash = credentials.hash_password(password)
    repo.add_membership(
        session, merchant_id=merchant.id, user_id=applicant.id, role=MerchantRole.OWNER, now=now
    )
    return merchant


def update_merchant(
    session: Session,
    merchant_id: int,
    *,
    name: str | None,
    contact_name: str | None,
    contact_phone: str | None,
    events_public: bool | None,
    now: datetime,
) -> Merchant:
    merchant = get_merchant(session, merchant_id)
    if name is not None:
        merchant.name = name
    if contact_name is not None:
        merchant.contact_name = contact_name
    if contact_phone is not None:
        merchant.contact_phone = normalize_phone(contact_phone)
    if events_public is not None:
        merchant.events_public = events_public
    merchant.updated_at = now
    session.flush()
    return merchant


def reset_owner_password(
    session: Session, merchant_id: int, password: str | None, now: datetime
) -> PasswordResetResult:
    """Give the merchant's owner a new password (generated when none is given); their
    sessions end."""
    get_merchant(session, merchant_id)
    owner_membership = repo.get_owner_membership(session, merchant_id)
    if owner_membership is None:
        raise NotFound("accounts.member_not_found")
    generated = None
    if password is None:
        generated = password = credentials.new_password()
    set_password(session, owner_membership.user, password, now)
    return PasswordResetResult(owner_membership.user, generated)


def _transition(
    session: Session,
    merchant_id: int,
    allowed_from: frozenset[MerchantStatus],
    to: MerchantStatus,
    now: datetime,
) -> Merchant:
    merchant = get_merchant(session, merchant_id)
    if merchant.status not in allowed_from:
        raise Conflict("accounts.merchant_status_conflict", status=merchant.status.value)
    merchant.status = to
    merchant.updated_at = now
    session.flush()
    return merchant


def freeze_merchant(session: Session, merchant_id: int, now: datetime) -> Merchant:
    return _transition(
        session, merchant_id, frozenset({MerchantStatus.ACTIVE}), MerchantStatus.FROZEN, now
    )


def unfreeze_merchant(session: Session, merchant_id: int, now: datetime) -> Merchant:
    return _transition(
        session, merchant_id, frozenset({MerchantStatus.FROZEN}), MerchantStatus.ACTIVE, now
    )


def approve_merchant(session: Session, merchant_id: int, now: datetime) -> Merchant:
    return _transition(
        session, merchant_id, frozenset({MerchantStatus.PENDING}), MerchantStatus.ACTIVE, now
    )


def reject_merchant(session: Session, merchant_id: int, reason: str, now: datetime) -> Merchant:
    merchant = _transition(
        session, merchant_id, frozenset({MerchantStatus.PENDING}), MerchantStatus.REJECTED, now
    )
    merchant.rejection_reason = reason
    session.flush()
    return merchant


def delete_merchant(session: Session, merchant_id: int, now: datetime) -> None:
    """Soft delete: the merchant and everything it owns stay for the records, hidden from every
    list and lookup; its members' merchant tokens are revoked."""
    merchant = get_merchant(session, merchant_id)
    merchant.deleted_at = now
    merchant.updated_at = now
    repo.revoke_tokens(session, now, merchant_id=merchant_id)
    session.flush()


# --- merchant managers: staff --------------------------------------------------------------------


def list_staff(session: Session, merchant_id: int) -> Sequence[Membership]:
    return repo.list_memberships(session, merchant_id)


def get_staff(session: Session, merchant_id: int, membership_id: int) -> Membership:
    membership = repo.get_membership(session, merchant_id, membership_id)
    if membership is None:
        raise NotFound("accounts.member_not_found")
    return membership


def bind_staff(
    session: Session, merchant_id: int, *, phone: str, role: MerchantRole, now: datetime
) -> Membership:
    """Give a registered user (they logged in once with their phone) a role in the merchant."""
    if role not in ASSIGNABLE_ROLES:
        raise Invalid("accounts.role_not_assignable")
    normalized = normalize_phone(phone)
    user = repo.get_user_by_phone(session, normalized)
    if user is None:
        raise NotFound("accounts.user_not_registered", detail={"phone": normalized})
    if repo.get_membership_of_user(session, merchant_id, user.id) is not None:
        raise Conflict("accounts.already_member")
    return repo.add_membership(
        session, merchant_id=merchant_id, user_id=user.id, role=role, now=now
    )


def change_staff_role(
    session: Session, merchant_id: int, membership_id: int, role: MerchantRole
) -> Membership:
    membership = get_staff(session, merchant_id, membership_id)
    if role not in ASSIGNABLE_ROLES:
        raise Invalid("accounts.role_not_assignable")
    if membership.role is MerchantRole.OWNER:
        raise Conflict("accounts.owner_is_fixed")
    membership.role = role
    session.flush()
    return membership


def unbind_staff(session: Session, merchant_id: int, membership_id: int, now: datetime) -> None:
    membership = get_staff(session, merchant_id, membership_id)
    if membership.role is MerchantRole.OWNER:
        raise Conflict("accounts.owner_is_fixed")
    repo.revoke_tokens(session, now, user_id=membership.user_id, merchant_id=merchant_id)
    repo.delete_membership(session, membership)


# --- bootstrap -----------------------------------------------------------------------------------


def ensure_platform_admin(session: Session, *, phone: str, password: str, now: datetime) -> User:
    """Create the platform admin (or promote and re-password an existing user): ``admit server
    create-admin``."""
    normalized = normalize_phone(phone)
    user = repo.get_user_by_phone(session, normalized) or repo.add_user(
        session, phone=normalized, now=now
    )
    user.is_platform_admin = True
    set_password(session, user, password, now)
    return user
