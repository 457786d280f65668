"""The live gate dashboard: a server-rendered page and its SSE stream.

Auth: the accounts token of a gate operator or merchant admin. ``/dashboard?token=...`` stores it
in the ``admit_token`` cookie (HttpOnly) and redirects to ``/dashboard``, so the token leaves
the address bar; the page and the stream (GET) then authenticate by the cookie, and the page's
command buttons send it as a bearer token. Without a token the page shows a login form that
calls ``POST /api/auth/login``.

Gate health (telemetry judged by :mod:`server.dashboard.health`) is on the page, on the stream
as ``health`` events (polled: :mod:`server.dashboard.live_health`) and, for tools, at
``GET /api/v1/dashboard/health``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from server.accounts.auth import Principal, resolve_token
from server.accounts.dependencies import TOKEN_COOKIE, GateOperator, presented_token
from server.accounts.models import MANAGER_ROLES, MerchantRole
from server.clock import Now
from server.dashboard import messages
from server.dashboard.health import Level, assess
from server.dashboard.live_health import (
    POLL_SECONDS,
    HealthTracker,
    database_reader,
    health_poll,
)
from server.dashboard.present import gate_view
from server.dashboard.repository import gate_telemetry
from server.dashboard.schemas import HealthOut
from server.dashboard.stream import live_events
from server.dashboard.templating import templates
from server.db import AppDatabase, DbSession, get_gate
from server.deps import Language
from server.errors import Forbidden, Unauthorized
from server.fleet import repository as fleet_repo
from server.fleet.deps import AppLiveFeed
from server.fleet.schemas import GateOut, ScanOut
from server.i18n import translate

HEARTBEAT_SECONDS = 15.0
LATEST_SCANS = 50
DASHBOARD_ROLES = MANAGER_ROLES | {MerchantRole.GATE_OPERATOR}

page_router = APIRouter(tags=["dashboard"], include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


def _texts(language: str) -> dict[str, str]:
    return {key.split(".", 1)[1]: translate(key, language) for key in messages.TEXTS}


def _health_views(
    session: Session, merchant_id: int, now: datetime, language: str
) -> list[dict[str, Any]]:
    return [
        gate_view(row, assess(row.telemetry, row.telemetry_at, now), language)
        for row in gate_telemetry(session, merchant_id)
    ]


def _viewer(
    token: Annotated[str | None, Depends(presented_token)], session: DbSession, now: Now
) -> Principal | None:
    """The page's viewer, or None (a stale cookie shows the login form, not an error)."""
    if token is None:
        return None
    try:
        return resolve_token(session, token, now)
    except Unauthorized:
        return None


@page_router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: DbSession,
    language: Language,
    now: Now,
    principal: Annotated[Principal | None, Depends(_viewer)],
    token: Annotated[str | None, Depends(presented_token)],
    query_token: Annotated[str | None, Query(alias="token")] = None,
) -> Response:
    if query_token:
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(TOKEN_COOKIE, query_token, httponly=True, samesite="strict")
        return response
    texts = _texts(language)
    if principal is None or principal.merchant_id is None or principal.role not in DASHBOARD_ROLES:
        return templates.TemplateResponse(request, "login.html", {"t": texts, "language": language})
    gates = [
        GateOut.of(gate).model_dump(mode="json")
        for gate in fleet_repo.list_gates(session, principal.merchant_id)
    ]
    scans = [
        ScanOut.of(scan).model_dump(mode="json")
        for scan in fleet_repo.latest_scans(session, principal.merchant_id, limit=LATEST_SCANS)
    ]
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "t": texts,
            "language": language,
            "gates": gates,
            "scans": scans,
            "health": _health_views(session, principal.merchant_id, now, language),
            "now": now.isoformat(),
            "token": token,
            "timezone": request.app.state.settings.timezone,
        },
    )


@api_router.get("/health", response_model=HealthOut)
def health(who: GateOperator, session: DbSession, now: Now, language: Language) -> HealthOut:
    """Every gate of the viewer's merchant with its latest telemetry judged: values with units,
    their levels, the issues and the gate's overall level (texts in the request's language)."""
    if who.role not in DASHBOARD_ROLES:
        raise Forbidden()
    views = _health_views(session, who.merchant_id, now, language)
    counts = {level.value: 0 for level in Level}
    for view in views:
        counts[view["level"]] += 1
    return HealthOut.model_validate({"checked_at": now, "counts": counts, "gates": views})


@api_router.get("/stream")
async def stream(
    request: Request,
    who: GateOperator,
    feed: AppLiveFeed,
    database: AppDatabase,
    language: Language,
) -> StreamingResponse:
    """Live events for the viewer's merchant: ``scan``, ``gate`` (status), ``command``
    (results) and ``health`` (a gate's judged telemetry, when it changes; polled every 5 s), as
    server-sent events, with a heartbeat comment after 15 seconds without an event."""
    if who.role not in DASHBOARD_ROLES:
        raise Forbidden()
    state = request.app.state
    heartbeat = float(getattr(state, "dashboard_heartbeat", HEARTBEAT_SECONDS))
    poll_every = float(getattr(state, "dashboard_health_poll", POLL_SECONDS))
    reader = database_reader(database, get_gate(request), state.clock, who.merchant_id)
    return StreamingResponse(
        live_events(
            feed,
            who.merchant_id,
            heartbeat=heartbeat,
            disconnected=request.is_disconnected,
            poll=health_poll(reader, HealthTracker(language, _texts(language))),
            poll_every=poll_every,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
