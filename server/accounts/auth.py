"""Authentication rules: one-time codes by SMS, passwords, bearer tokens, and who a token is.

Tokens are opaque and live in the database, so every server instance accepts them and a
revocation (logout, frozen merchant, unbound staff) takes effect on the very next request: the
principal is resolved from the token, its membership and its merchant on every request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.accounts import credentials
from server.accounts import messages as _messages  # noqa: F401  (registers the texts)
from server.accounts import repository as repo
from server.accounts.models import Membership, Merchant, MerchantRole, MerchantStatus, User
from server.errors import Forbidden, RateLimited, Unauthorized, Unavailable
from server.i18n import translate
from server.phones import normalize_phone
from server.settings import Settings
from server.sms import SmsSender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is making a request. ``merchant_id``/``role`` are set when the token is bound to a
    membership; visitors and platform admins use unbound tokens."""

    user_id: int
    phone: str
    is_platform_admin: bool
    merchant_id: int | None
    role: MerchantRole | None
    token_id: int


@dataclass(frozen=True)
class MerchantPrincipal:
    """A member acting for one merchant, as returned by the merchant role guards."""

    user_id: int
    phone: str
    merchant_id: int
    role: MerchantRole
    token_id: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User
    merchant_id: int | None
    role: MerchantRole | None


@dataclass(frozen=True)
class CodeSent:
    phone: str
    expires_in: int
    resend_after: int


# --- one-time codes ----------------------------------------------------------------------------


class SmsNotSent(Unavailable):
    """503 ``accounts.sms_not_sent``: the code was stored and counts toward the sending limits,
    but the SMS gateway failed; ``retry_after`` (the resend interval) goes into ``Retry-After``."""

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__("accounts.sms_not_sent", retry_after=self.retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class StoredCode:
    """A login code stored by :func:`store_login_code` (not yet committed), and its message."""

    phone: str
    text: str
    sent: CodeSent


def store_login_code(
    session: Session,
    settings: Settings,
    *,
    phone_text: str,
    client_ip: str,
    language: str,
    now: datetime,
) -> StoredCode:
    """Store a fresh login code for a phone, within the per-phone and per-IP limits, and
    compose its message; the caller commits, and only then sends it (:func:`send_login_code`).

    The limits are counted and the code added under the phone's and the address's lock
    (:func:`repo.lock_code_limits`), so concurrent requests cannot all pass one count: a limit
    of 10 sends exactly 10 codes however many requests arrive at once.
    """
    phone = normalize_phone(phone_text)
    repo.lock_code_limits(session, phone=phone, client_ip=client_ip)
    _check_code_limits(session, settings, phone=phone, client_ip=client_ip, now=now)
    code = credentials.new_numeric_code(settings.otp_length)
    repo.add_code(
        session,
        phone=phone,
        client_ip=client_ip,
        code_hash=credentials.hash_code(settings.resolved_secret_key(), phone, code),
        now=now,
        expires_at=now + settings.otp_ttl,
    )
    minutes = max(1, int(settings.otp_ttl.total_seconds() // 60))
    text = translate(
        "accounts.sms_login_code",
        language,
        signature=settings.sms_signature,
        code=code,
        minutes=minutes,
    )
    sent = CodeSent(
        phone=phone,
        expires_in=int(settings.otp_ttl.total_seconds()),
        resend_after=int(settings.otp_resend_interval.total_seconds()),
    )
    return StoredCode(phone, text, sent)


def send_login_code(sms_sender: SmsSender, stored: StoredCode) -> CodeSent:
    """Send a committed code's SMS. If the gateway fails, the code stays stored, live and
    counted toward every limit, the resend interval included: a failure may still have been
    delivered (a timeout), and a send that did not count could be retried without limit. The
    visitor is told so (503 :class:`SmsNotSent`, ``Retry-After`` = the resend interval) and may
    ask again when the interval has passed; a code that did arrive works until a newer one is
    sent."""
    try:
        sms_sender.send(stored.phone, stored.text)
    except Exception as exc:
        log.warning("login code not sent", extra={"sms_phone": stored.phone}, exc_info=True)
        raise SmsNotSent(retry_after=stored.sent.resend_after) from exc
    return stored.sent


def request_login_code(
    session: Session,
    settings: Settings,
    sms_sender: SmsSender,
    *,
    phone_text: str,
    client_ip: str,
    language: str,
    now: datetime,
) -> CodeSent:
    """Send a fresh login code to a phone, within the per-phone and per-IP limits
    (:func:`store_login_code`, then :func:`send_login_code`).

    **Commits the session's transaction** before sending: the SMS leaves only once its code is
    stored, and the gateway's time is spent holding no lock and no write transaction (a slow
    gateway would otherwise hold the phone's and the address's turn, and on SQLite the write
    lock, for every request waiting behind it). The HTTP endpoint does the same in two steps,
    so that it also gives back its database turn before the gateway is called.
    """
    stored = store_login_code(
        session, settings, phone_text=phone_text, client_ip=client_ip, language=language, now=now
    )
    session.commit()
    return send_login_code(sms_sender, stored)


def _check_code_limits(
    session: Session, settings: Settings, *, phone: str, client_ip: str, now: datetime
) -> None:
    windows: list[tuple[timedelta, int, str | None, str | None, str]] = [
        (settings.otp_resend_interval, 1, phone, None, "accounts.code_too_soon"),
        (timedelta(days=1), settings.otp_daily_limit_per_phone, phone, None, "rate_limited"),
        (timedelta(hours=1), settings.otp_hourly_limit_per_ip, None, client_ip, "rate_limited"),
    ]
    for window, limit, by_phone, by_ip, code in windows:
        since = now - window
        if by_phone is not None:
            used = repo.count_codes_for_phone_since(session, by_phone, since)
        else:
            used = repo.count_codes_for_ip_since(session, client_ip, since)
        if used < limit:
            continue
        oldest = repo.oldest_code_time_since(session, since=since, phone=by_phone, client_ip=by_ip)
        retry_after = (oldest + window - now).total_seconds() if oldest else window.total_seconds()
        raise RateLimited(code, retry_after=int(retry_after) + 1)


def verify_login_code(
    session: Session,
    settings: Settings,
    *,
    phone_text: str,
    code: str,
    merchant_id: int | None,
    now: datetime,
) -> IssuedToken:
    """Exchange a correct code for a token; the first login registers the phone as a user.

    A wrong guess is committed before the error is raised, so the rollback of the failed request
    does not give the guesser their attempt back.
    """
    phone = normalize_phone(phone_text)
    live = repo.latest_live_code(session, phone, now)
    if live is None:
        raise Unauthorized("accounts.code_invalid")
    if live.failed_attempts >= settings.otp_max_attempts:
        raise RateLimited(
            "accounts.code_locked",
            retry_after=int((live.expires_at - now).total_seconds()) + 1,
        )
    if not credentials.codes_match(live.code_hash, settings.resolved_secret_key(), phone, code):
        repo.count_failed_attempt(session, live.id, settings.otp_max_attempts)
        session.commit()
        raise Unauthorized("accounts.code_invalid")
    if not repo.use_code(session, live.id, now):
        raise Unauthorized("accounts.code_invalid")
    user = repo.get_user_by_phone(session, phone) or repo.add_user(session, phone=phone, now=now)
    return _log_in(session, settings, user, merchant_id, now, strict=False)


# --- passwords ---------------------------------------------------------------------------------


def login_with_password(
    session: Session,
    settings: Settings,
    *,
    phone_text: str,
    password: str,
    merchant_id: int | None,
    now: datetime,
) -> IssuedToken:
    """Staff and admin login. Too many wrong passwords for a phone lock it for a while."""
    phone = normalize_phone(phone_text)
    since = now - settings.password_lockout_window
    if repo.count_password_failures_since(session, phone, since) >= settings.password_max_failures:
        raise RateLimited(
            "accounts.password_locked",
            retry_after=int(settings.password_lockout_window.total_seconds()),
        )
    user = repo.get_user_by_phone(session, phone)
    if (
        user is None
        or user.password_hash is None
        or not credentials.verify_password(user.password_hash, password)
    ):
        repo.add_password_failure(session, phone, now)
        session.commit()
        raise Unauthorized("accounts.login_failed")
    repo.clear_password_failures(session, phone)
    return _log_in(session, settings, user, merchant_id, now, strict=True)


def set_password(session: Session, user: User, password: str, now: datetime) -> None:
    """Replace a user's password and end every session they had."""
    user.password_hash = credentials.hash_password(password)
    repo.revoke_tokens(session, now, user_id=user.id)
    session.flush()


def change_own_password(
    session: Session, user_id: int, current_password: str | None, new_password: str, now: datetime
) -> None:
    """A user changes their password; a user who has one must give it (code-only visitors may
    set a first password without one)."""
    user = repo.get_user(session, user_id)
    if user is None:
        raise Unauthorized("accounts.token_invalid")
    if user.password_hash is not None and not (
        current_password and credentials.verify_password(user.password_hash, current_password)
    ):
        raise Forbidden("accounts.password_wrong")
    set_password(session, user, new_password, now)


# --- tokens ------------------------------------------------------------------------------------


def _log_in(
    session: Session,
    settings: Settings,
    user: User,
    merchant_id: int | None,
    now: datetime,
    *,
    strict: bool,
) -> IssuedToken:
    membership = choose_membership(
        repo.list_memberships_of_user(session, user.id), merchant_id, strict=strict
    )
    user.last_login_at = now
    return issue_token(session, settings, user, membership, now)


def choose_membership(
    memberships: Sequence[Membership], merchant_id: int | None, *, strict: bool
) -> Membership | None:
    """Which membership a new token is bound to.

    An explicit ``merchant_id`` must be one of the user's memberships in a working merchant.
    Without one, a user with exactly one membership is bound to it; with several or none the
    token is unbound (``POST /api/auth/switch`` binds it later). ``strict`` (password login, the
    staff path) refuses login when that single merchant is frozen, pending or rejected; the
    code login (the visitor path) then falls back to an unbound visitor token.
    """
    if merchant_id is not None:
        for membership in memberships:
            if membership.merchant_id == merchant_id:
                ensure_operational(membership.merchant)
                return membership
        raise Forbidden("accounts.not_a_member")
    if len(memberships) != 1:
        return None
    only = memberships[0]
    if only.merchant.is_operational:
        return only
    if strict:
        ensure_operational(only.merchant)
    return None


def ensure_operational(merchant: Merchant) -> None:
    """Raise 403 with the reason when the merchant's members may not act."""
    refusal = merchant_refusal(merchant.status, merchant.deleted_at)
    if refusal is not None:
        raise Forbidden(refusal)


def merchant_refusal(status: MerchantStatus, deleted_at: datetime | None) -> str | None:
    """Why members of a merchant in this state may not act (an error code), or None."""
    if deleted_at is not None:
        return "accounts.merchant_deleted"
    return _STATUS_REFUSALS.get(status)


_STATUS_REFUSALS = {
    MerchantStatus.FROZEN: "accounts.merchant_frozen",
    MerchantStatus.PENDING: "accounts.merchant_pending",
    MerchantStatus.REJECTED: "accounts.merchant_rejected",
}


def issue_token(
    session: Session,
    settings: Settings,
    user: User,
    membership: Membership | None,
    now: datetime,
) -> IssuedToken:
    token = credentials.new_token()
    expires_at = now + settings.token_ttl
    repo.add_token(
        session,
        token_hash=credentials.hash_token(token),
        user_id=user.id,
        merchant_id=membership.merchant_id if membership else None,
        now=now,
        expires_at=expires_at,
    )
    return IssuedToken(
        token=token,
        expires_at=expires_at,
        user=user,
        merchant_id=membership.merchant_id if membership else None,
        role=membership.role if membership else None,
    )


def switch_merchant(
    session: Session,
    settings: Settings,
    principal: Principal,
    merchant_id: int | None,
    now: datetime,
) -> IssuedToken:
    """Replace the caller's token with one bound to another of their merchants (or unbound)."""
    user = repo.get_user(session, principal.user_id)
    if user is None:
        raise Unauthorized("accounts.token_invalid")
    membership = None
    if merchant_id is not None:
        membership = choose_membership(
            repo.list_memberships_of_user(session, user.id), merchant_id, strict=True
        )
    repo.revoke_token(session, principal.token_id, now)
    return issue_token(session, settings, user, membership, now)


def resolve_token(session: Session, token: str, now: datetime) -> Principal:
    """Who holds ``token`` right now; 401 when it is unknown, expired, revoked or its
    membership is gone, 403 when its merchant is frozen, pending, rejected or deleted.

    One read and no write (the request's own transaction stays untouched): callers run it in a
    short read transaction of its own, :meth:`server.db.Database.read`.
    """
    live = repo.find_live_token(session, credentials.hash_token(token), now)
    if live is None:
        raise Unauthorized("accounts.token_invalid")
    if live.merchant_id is not None:
        if live.role is None or live.merchant_status is None:
            raise Unauthorized("accounts.token_invalid")
        refusal = merchant_refusal(live.merchant_status, live.merchant_deleted_at)
        if refusal is not None:
            raise Forbidden(refusal)
    return Principal(
        user_id=live.user_id,
        phone=live.phone,
        is_platform_admin=live.is_platform_admin,
        merchant_id=live.merchant_id,
        role=live.role,
        token_id=live.token_id,
    )


def log_out(session: Session, principal: Principal, now: datetime) -> None:
    repo.revoke_token(session, principal.token_id, now)
