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

Hot write endpoints (check-in) take a :class:`MerchantCall` instead of a guard and a
:data:`server.db.DbSession`: it waits for the database turn on the event loop, then resolves
the caller *and* runs the endpoint's work in one write transaction in **one** worker-thread
hop (the guard's read, the session's enter and exit and the endpoint would otherwise be four
hops and two connection checkouts per request)::

    @router.post("/scan")
    async def scan(body: ScanIn, call: CheckerCall) -> CheckinOut:
        def work(session: Session, who: MerchantPrincipal) -> CheckinOut:
            ...  # the same rules as a guard: 401/403 before work runs
        return await call.run(work)

An endpoint whose database work is followed by something slow that needs no database (the
login code's SMS) takes :data:`OwnTransaction` instead of a session: its transaction runs in a
turn taken for the transaction only, and the slow part runs after the turn is given back.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.accounts.auth import MerchantPrincipal, Principal, resolve_token
from server.accounts.models import MANAGER_ROLES, MerchantRole
from server.clock import Now
from server.db import AppDatabase, Database, DatabaseTurn, RequestGate, get_gate
from server.errors import Forbidden, Unauthorized

T = TypeVar("T")

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
    allowed = _allowed_roles(roles)

    async def guard(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> MerchantPrincipal:
        return acting_member(principal, allowed)

    guard.__name__ = "require_merchant_role_" + "_".join(sorted(r.value for r in allowed))
    return guard


def _allowed_roles(roles: tuple[MerchantRole, ...]) -> frozenset[MerchantRole]:
    return frozenset(roles) | MANAGER_ROLES if roles else frozenset(MerchantRole)


def acting_member(principal: Principal, allowed: frozenset[MerchantRole]) -> MerchantPrincipal:
    """The principal as a member of its merchant in one of the ``allowed`` roles; 403 if the
    token is not bound to a merchant or the role is not allowed."""
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


async def in_database_turn(gate: RequestGate, work: Callable[[], T]) -> T:
    """Wait for a database turn on the event loop (:class:`RequestGate`: one of the process's
    sessions and, on SQLite, the process's writer), run ``work`` in one worker thread, and give
    the turn back as soon as it returns or raises."""
    writer: AbstractAsyncContextManager[Any] = (
        gate.writer if gate.writer is not None else nullcontext()
    )
    async with gate.sessions, writer:
        return await run_in_threadpool(work)


@dataclass(frozen=True)
class OwnWriteTransaction:
    """For an endpoint whose database work is only part of it (then something slow that needs
    no database, such as an SMS gateway): instead of a :data:`server.db.DbSession`, which holds
    the request's database turn (on SQLite the process's writer) until the response, it runs
    its work in a write transaction of its own within a turn taken for that transaction only::

        @router.post("/code")
        async def request_code(..., transaction: OwnTransaction) -> Out:
            stored = await transaction.run(lambda session: store(session, ...))  # committed
            await run_in_threadpool(send, stored)  # no turn, no transaction held
    """

    database: Database
    gate: RequestGate

    async def run(self, work: Callable[[Session], T]) -> T:
        """Begin a write transaction in the request's turn, run ``work`` and commit (any
        exception rolls back); the turn is given back as soon as the transaction has ended."""
        return await in_database_turn(self.gate, lambda: self._transaction(work))

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self.database.sessions.begin() as session:
            return work(session)


async def own_transaction(request: Request) -> OwnWriteTransaction:
    return OwnWriteTransaction(request.app.state.database, get_gate(request))


@dataclass(frozen=True)
class MerchantCall:
    """A merchant write endpoint's caller and database work, run together in one worker-thread
    hop (see the module docstring). ``now`` is the request's time (the app's clock, read once).
    """

    token: str
    allowed: frozenset[MerchantRole]
    database: Database
    gate: RequestGate
    now: datetime

    async def run(self, work: Callable[[Session, MerchantPrincipal], T]) -> T:
        """Wait for the request's database turn on the event loop (:class:`RequestGate`: one of
        the process's sessions and, on SQLite, the process's writer), then in one worker thread
        begin a write transaction, resolve the token in it (401/403 exactly as the guards
        answer), run ``work`` and commit; any exception rolls back. The turn is given back as
        soon as the transaction has ended."""
        return await in_database_turn(self.gate, lambda: self._transaction(work))

    def _transaction(self, work: Callable[[Session, MerchantPrincipal], T]) -> T:
        with self.database.sessions.begin() as session:
            who = acting_member(resolve_token(session, self.token, self.now), self.allowed)
            return work(session, who)


def merchant_call(
    *roles: MerchantRole,
) -> Callable[..., Coroutine[Any, Any, MerchantCall]]:
    """Like :func:`require_merchant_role`, for endpoints that run their work through
    :meth:`MerchantCall.run`. Without a token it answers 401 at once; everything else about the
    caller is decided in the call's transaction."""
    allowed = _allowed_roles(roles)

    async def call(
        request: Request,
        token: Annotated[str | None, Depends(presented_token)],
        now: Now,
    ) -> MerchantCall:
        if token is None:
            raise Unauthorized()
        database: Database = request.app.state.database
        return MerchantCall(token, allowed, database, get_gate(request), now)

    call.__name__ = "merchant_call_" + "_".join(sorted(r.value for r in allowed))
    return call


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
#: A write transaction of the endpoint's own, in a turn taken for it alone: ``await
#: transaction.run(work)``.
OwnTransaction = Annotated[OwnWriteTransaction, Depends(own_transaction)]
#: A checker's (or manager's) write call in one thread hop: ``await call.run(work)``.
CheckerCall = Annotated[MerchantCall, Depends(merchant_call(MerchantRole.CHECKER))]

__all__ = [
    "CheckerCall",
    "CurrentPrincipal",
    "GateOperator",
    "MerchantCall",
    "MerchantChecker",
    "MerchantManager",
    "MerchantMember",
    "MerchantPrincipal",
    "OptionalPrincipal",
    "OwnTransaction",
    "OwnWriteTransaction",
    "PlatformAdmin",
    "Principal",
    "Visitor",
    "acting_member",
    "current_principal",
    "in_database_turn",
    "merchant_call",
    "optional_principal",
    "require_merchant_role",
    "require_platform_admin",
    "require_visitor",
]
