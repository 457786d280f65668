"""HTTP API of accounts: login, the platform's merchant administration, merchant staff."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from server.accounts import auth, service
from server.accounts import repository as repo
from server.accounts.auth import IssuedToken
from server.accounts.dependencies import (
    CurrentPrincipal,
    MerchantManager,
    MerchantMember,
    OwnTransaction,
    PlatformAdmin,
    Visitor,
)
from server.accounts.models import Membership, MerchantStatus, User
from server.accounts.schemas import (
    CodeLogin,
    CodeRequest,
    CodeRequested,
    MembershipOut,
    MeOut,
    MerchantApplication,
    MerchantCreate,
    MerchantCreated,
    MerchantOut,
    MerchantRejection,
    MerchantUpdate,
    PasswordChange,
    PasswordLogin,
    PasswordReset,
    PasswordResetDone,
    StaffBind,
    StaffOut,
    StaffUpdate,
    SwitchMerchant,
    TokenOut,
    UserOut,
)
from server.clock import Now
from server.db import DbSession
from server.deps import AppSettings, AppSmsSender, ClientIp, Language

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
admin_router = APIRouter(prefix="/api/admin/merchants", tags=["platform admin"])
merchant_router = APIRouter(prefix="/api/merchant", tags=["merchant"])


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        phone=user.phone,
        display_name=user.display_name,
        is_platform_admin=user.is_platform_admin,
        has_password=user.password_hash is not None,
    )


def _memberships_out(session: Session, user_id: int) -> list[MembershipOut]:
    return [
        MembershipOut(
            merchant_id=m.merchant_id,
            merchant_name=m.merchant.name,
            merchant_status=m.merchant.status,
            role=m.role,
        )
        for m in repo.list_memberships_of_user(session, user_id)
    ]


def _token_out(session: Session, issued: IssuedToken) -> TokenOut:
    return TokenOut(
        access_token=issued.token,
        expires_at=issued.expires_at,
        user=_user_out(issued.user),
        merchant_id=issued.merchant_id,
        role=issued.role,
        memberships=_memberships_out(session, issued.user.id),
    )


def _staff_out(membership: Membership) -> StaffOut:
    return StaffOut.of(
        membership.id,
        membership.user_id,
        membership.user.phone,
        membership.user.display_name,
        membership.role,
        membership.created_at,
    )


# --- login ---------------------------------------------------------------------------------------


@auth_router.post("/code", status_code=status.HTTP_202_ACCEPTED)
async def request_code(
    body: CodeRequest,
    transaction: OwnTransaction,
    settings: AppSettings,
    sms: AppSmsSender,
    client_ip: ClientIp,
    language: Language,
    now: Now,
) -> CodeRequested:
    """Send a one-time login code by SMS (1 per minute and 10 per day per phone).

    The code is stored and committed in a transaction of its own, in a database turn taken for
    that transaction only; the SMS gateway is called after the turn is given back, so a slow
    gateway holds no turn (on SQLite: the process's writer) from other requests."""

    def store(session: Session) -> auth.StoredCode:
        return auth.store_login_code(
            session,
            settings,
            phone_text=body.phone,
            client_ip=client_ip,
            language=language,
            now=now,
        )

    stored = await transaction.run(store)
    sent = await run_in_threadpool(auth.send_login_code, sms, stored)
    return CodeRequested(
        phone=sent.phone, expires_in=sent.expires_in, resend_after=sent.resend_after
    )


@auth_router.post("/code/verify")
def log_in_with_code(
    body: CodeLogin, session: DbSession, settings: AppSettings, now: Now
) -> TokenOut:
    """Exchange a login code for a token; the first login registers the phone number."""
    issued = auth.verify_login_code(
        session,
        settings,
        phone_text=body.phone,
        code=body.code,
        merchant_id=body.merchant_id,
        now=now,
    )
    return _token_out(session, issued)


@auth_router.post("/login")
def log_in_with_password(
    body: PasswordLogin, session: DbSession, settings: AppSettings, now: Now
) -> TokenOut:
    """Staff and admin login by phone and password."""
    issued = auth.login_with_password(
        session,
        settings,
        phone_text=body.phone,
        password=body.password,
        merchant_id=body.merchant_id,
        now=now,
    )
    return _token_out(session, issued)


@auth_router.post("/switch")
def switch_merchant(
    body: SwitchMerchant, who: CurrentPrincipal, session: DbSession, settings: AppSettings, now: Now
) -> TokenOut:
    """Trade the current token for one bound to another of your merchants (or unbound)."""
    return _token_out(session, auth.switch_merchant(session, settings, who, body.merchant_id, now))


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def log_out(who: CurrentPrincipal, session: DbSession, now: Now) -> Response:
    auth.log_out(session, who, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.get("/me")
def me(who: CurrentPrincipal, session: DbSession) -> MeOut:
    user = repo.get_user(session, who.user_id)
    assert user is not None  # the token resolved to this user within this request
    return MeOut(
        user=_user_out(user),
        merchant_id=who.merchant_id,
        role=who.role,
        memberships=_memberships_out(session, who.user_id),
    )


@auth_router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, who: Visitor, session: DbSession, now: Now) -> Response:
    """Set or change your password. Every session of yours ends, this one included."""
    auth.change_own_password(session, who.user_id, body.current_password, body.new_password, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- platform admin: merchants -------------------------------------------------------------------


@admin_router.get("")
def list_merchants(
    _: PlatformAdmin, session: DbSession, status: MerchantStatus | None = None
) -> list[MerchantOut]:
    merchants = service.list_merchants(session, status)
    return [MerchantOut.model_validate(m) for m in merchants]


@admin_router.post("", status_code=status.HTTP_201_CREATED)
def create_merchant(
    body: MerchantCreate, _: PlatformAdmin, session: DbSession, settings: AppSettings, now: Now
) -> MerchantCreated:
    created = service.create_merchant(
        session,
        settings,
        name=body.name,
        owner_phone=body.owner_phone,
        owner_password=body.owner_password,
        contact_name=body.contact_name,
        events_public=body.events_public,
        now=now,
    )
    return MerchantCreated(
        merchant=MerchantOut.model_validate(created.merchant),
        owner_user_id=created.owner.id,
        owner_phone=created.owner.phone,
        generated_password=created.generated_password,
    )


@admin_router.get("/{merchant_id}")
def read_merchant(merchant_id: int, _: PlatformAdmin, session: DbSession) -> MerchantOut:
    return MerchantOut.model_validate(service.get_merchant(session, merchant_id))


@admin_router.patch("/{merchant_id}")
def update_merchant(
    merchant_id: int, body: MerchantUpdate, _: PlatformAdmin, session: DbSession, now: Now
) -> MerchantOut:
    merchant = service.update_merchant(
        session,
        merchant_id,
        name=body.name,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        events_public=body.events_public,
        now=now,
    )
    return MerchantOut.model_validate(merchant)


@admin_router.post("/{merchant_id}/reset-password")
def reset_password(
    merchant_id: int, body: PasswordReset, _: PlatformAdmin, session: DbSession, now: Now
) -> PasswordResetDone:
    result = service.reset_owner_password(session, merchant_id, body.password, now)
    return PasswordResetDone(phone=result.owner.phone, generated_password=result.generated_password)


@admin_router.post("/{merchant_id}/freeze")
def freeze(merchant_id: int, _: PlatformAdmin, session: DbSession, now: Now) -> MerchantOut:
    return MerchantOut.model_validate(service.freeze_merchant(session, merchant_id, now))


@admin_router.post("/{merchant_id}/unfreeze")
def unfreeze(merchant_id: int, _: PlatformAdmin, session: DbSession, now: Now) -> MerchantOut:
    return MerchantOut.model_validate(service.unfreeze_merchant(session, merchant_id, now))


@admin_router.post("/{merchant_id}/approve")
def approve(merchant_id: int, _: PlatformAdmin, session: DbSession, now: Now) -> MerchantOut:
    return MerchantOut.model_validate(service.approve_merchant(session, merchant_id, now))


@admin_router.post("/{merchant_id}/reject")
def reject(
    merchant_id: int, body: MerchantRejection, _: PlatformAdmin, session: DbSession, now: Now
) -> MerchantOut:
    merchant = service.reject_merchant(session, merchant_id, body.reason, now)
    return MerchantOut.model_validate(merchant)


@admin_router.delete("/{merchant_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_merchant(merchant_id: int, _: PlatformAdmin, session: DbSession, now: Now) -> Response:
    service.delete_merchant(session, merchant_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- self-registration and the merchant's own pages ----------------------------------------------

applications_router = APIRouter(prefix="/api/merchant-applications", tags=["merchant"])


@applications_router.post("", status_code=status.HTTP_201_CREATED)
def apply(
    body: MerchantApplication, who: Visitor, session: DbSession, settings: AppSettings, now: Now
) -> MerchantOut:
    """Apply for a merchant account (when the platform allows it); a platform admin decides."""
    merchant = service.apply_for_merchant(
        session,
        settings,
        applicant_user_id=who.user_id,
        name=body.name,
        contact_name=body.contact_name,
        password=body.password,
        now=now,
    )
    return MerchantOut.model_validate(merchant)


@merchant_router.get("")
def read_own_merchant(who: MerchantMember, session: DbSession) -> MerchantOut:
    return MerchantOut.model_validate(service.get_merchant(session, who.merchant_id))


@merchant_router.get("/staff")
def list_staff(who: MerchantManager, session: DbSession) -> list[StaffOut]:
    staff: Sequence[Membership] = service.list_staff(session, who.merchant_id)
    return [_staff_out(m) for m in staff]


@merchant_router.post("/staff", status_code=status.HTTP_201_CREATED)
def bind_staff(body: StaffBind, who: MerchantManager, session: DbSession, now: Now) -> StaffOut:
    """Bind a registered user (by phone) as checker, gate operator or admin."""
    membership = service.bind_staff(
        session, who.merchant_id, phone=body.phone, role=body.role, now=now
    )
    return _staff_out(membership)


@merchant_router.get("/staff/{membership_id}")
def read_staff(membership_id: int, who: MerchantManager, session: DbSession) -> StaffOut:
    return _staff_out(service.get_staff(session, who.merchant_id, membership_id))


@merchant_router.patch("/staff/{membership_id}")
def change_staff_role(
    membership_id: int, body: StaffUpdate, who: MerchantManager, session: DbSession
) -> StaffOut:
    membership = service.change_staff_role(session, who.merchant_id, membership_id, body.role)
    return _staff_out(membership)


@merchant_router.delete("/staff/{membership_id}", status_code=status.HTTP_204_NO_CONTENT)
def unbind_staff(
    membership_id: int, who: MerchantManager, session: DbSession, now: Now
) -> Response:
    service.unbind_staff(session, who.merchant_id, membership_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
