"""FastAPI dependencies that say who is calling and whether they may. Use them blind::

    from server.accounts.dependencies import (
        CurrentPrincipal, PlatformAdmin, Visitor, require_merchant_role, MerchantPrincipal,
    )
    from server.accounts.models import MerchantRole

    CheckerOrManager = Annotated[
        MerchantPrincipal, Depends(require_merchant_role(MerchantRole.CHECKER))
    ]

    @router.get("/api/merchant/events/{event_id}")
    def read_event(event_id: int, who: CheckerOrManager, session: DbSession) -> EventOut:
        return service.get_event(session, who.merchant_id, event_id)   # 404 if not theirs

The token comes from ``Authorization: Bearer <token>``; for ``GET``/``HEAD`` requests (pages and
server-sent event streams, which cannot set headers) the ``admit_token`` cookie is accepted too.

The token is resolved in a short read transaction of its own (:meth:`server.db.Database.read`)
once the request has its database turn (:data:`server.db.DatabaseTurn`), never in the
request's session: the request's write transaction, and SQLite's write lock with it, begins in
the endpoint's thread. The
guards that only look at the principal are ``async`` (no worker thread needed).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.accounts.auth import MerchantPrincipal, Principal, resolve_token
from server.accounts.models import MANAGER_ROLES, MerchantRole
from server.clock import Now
from server.db import AppDatabase, DatabaseTurn
from server.errors import Forbidden, Unauthorized

TOKEN_COOKIE = "admit_token"

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/login or /code")


async def presented_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if request.method in {"GET", "HEAD"}:
        return request.cookies.get(TOKEN_COOKIE)
    return None


def optional_principal(
    token: Annotated[str | None, Depends(presented_token)],
    database: AppDatabase,
    now: Now,
    _turn: DatabaseTurn,
) -> Principal | None:
    """The caller, or None when no token was presented (a bad token is still a 401)."""
    if token is None:
        return None
    with database.read() as session:
        return resolve_token(session, token, now)


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; 401 without a valid token."""
    if principal is None:
        raise Unauthorized()
    return principal


async def require_platform_admin(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden()
    return principal


async def require_visitor(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Any logged-in person acting for themselves (their orders, their tickets by user id)."""
    return principal


def require_merchant_role(
    *roles: MerchantRole,
) -> Callable[..., Coroutine[Any, Any, MerchantPrincipal]]:
    """A guard for merchant endpoints: the token must be bound to a working merchant and the
    member's role one of ``roles``. Owners and admins pass every merchant guard.

    Pass no roles to admit any member. Returns a :class:`MerchantPrincipal` whose
    ``merchant_id`` every query of the endpoint must be scoped to.
    """
    allowed = frozenset(roles) | MANAGER_ROLES if roles else frozenset(MerchantRole)

    async def guard(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> MerchantPrincipal:
        if principal.merchant_id is None or principal.role is None:
            raise Forbidden("accounts.merchant_required")
        if principal.role not in allowed:
            raise Forbidden()
        return MerchantPrincipal(
            user_id=principal.user_id,
            phone=principal.phone,
            merchant_id=principal.merchant_id,
            role=principal.role,
            token_id=principal.token_id,
        )

    guard.__name__ = "require_merchant_role_" + "_".join(sorted(r.value for r in allowed))
    return guard


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
PlatformAdmin = Annotated[Principal, Depends(require_platform_admin)]
Visitor = Annotated[Principal, Depends(require_visitor)]
#: Any member of the merchant the token is bound to.
MerchantMember = Annotated[MerchantPrincipal, Depends(require_merchant_role())]
#: Owners and admins of the merchant.
MerchantManager = Annotated[MerchantPrincipal, Depends(require_merchant_role(*MANAGER_ROLES))]
#: Checkers (and managers).
MerchantChecker = Annotated[MerchantPrincipal, Depends(require_merchant_role(MerchantRole.CHECKER))]
#: Gate operators (and managers).
GateOperator = Annotated[
    MerchantPrincipal, Depends(require_merchant_role(MerchantRole.GATE_OPERATOR))
]

__all__ = [
    "CurrentPrincipal",
    "GateOperator",
    "MerchantChecker",
    "MerchantManager",
    "MerchantMember",
    "MerchantPrincipal",
    "OptionalPrincipal",
    "PlatformAdmin",
    "Principal",
    "Visitor",
    "current_principal",
    "optional_principal",
    "require_merchant_role",
    "require_platform_admin",
    "require_visitor",
]
