"""The app factory: ``create_app(settings) -> FastAPI``.

At creation the app gets its state (``app.state.settings``, ``.database``, ``.clock``,
``.sms_sender``, ``.context``), error handlers, the request-context middleware and the routers of
every feature package (:mod:`server.features`). The lifespan prepares the schema, starts the
features' long-running services and periodic jobs, and stops them again at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.clock import Clock, utc_now
from server.db import WORKER_THREADS, Base, Database, RequestGate
from server.errors import install_error_handlers
from server.features import Feature, PeriodicJob, ServerContext, discover_features
from server.i18n import language_from_accept_language
from server.logs import request_id_var
from server.process import freeze_startup_objects, shorten_gil_switch_interval
from server.routing import PathFilteredRouter
from server.settings import Settings, get_settings
from server.sms import SmsSender, make_sms_sender

log = logging.getLogger(__name__)
access_log = logging.getLogger("server.access")


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``) and a language, and logs one access line.

    A plain ASGI middleware, so streaming responses (SSE) pass through untouched. It runs on
    every request, so it reads only the two headers it needs and builds the access line only
    when it will be written.
    """

    def __init__(self, app: ASGIApp, default_language: str) -> None:
        self.app = app
        self.default_language = default_language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given_id: bytes | None = None
        accept_language: bytes | None = None
        for key, value in scope["headers"]:  # lower-case names (ASGI)
            if key == b"x-request-id":
                given_id = value
            elif key == b"accept-language":
                accept_language = value
        request_id = given_id.decode("latin-1") if given_id else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["language"] = language_from_accept_language(
            accept_language.decode("latin-1") if accept_language else None,
            self.default_language,
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_code = 500
        request_id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status_code,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


health_router = APIRouter(tags=["health"])


@health_router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    database: Database = request.app.state.database
    try:
        database.ping()
    except SQLAlchemyError as exc:
        log.warning("health check failed: %s", exc)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": database.dialect})


def prepare_schema(settings: Settings, database: Database) -> None:
    """Bring the schema up to date the way ``settings.database_schema`` asks."""
    if settings.database_schema == "migrate":
        from server.migrate import upgrade

        upgrade(settings.database_url)
    elif settings.database_schema == "create":
        from server.features import import_all_models

        import_all_models()
        Base.metadata.create_all(database.engine)


async def _run_periodically(job: PeriodicJob, context: ServerContext) -> None:
    interval = job.interval.total_seconds()
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(job.run, context, context.clock())
        except Exception:
            log.exception("periodic job %s failed", job.name)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.context
    features: list[Feature] = app.state.features
    # Sync endpoints and dependencies share this many threads; server.db sizes its pools above it.
    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    shorten_gil_switch_interval()
    await run_in_threadpool(prepare_schema, context.settings, context.database)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with contextlib.AsyncExitStack() as services:
            for feature in features:
                for service in feature.services:
                    await services.enter_async_context(service(app))
            if context.settings.background_jobs:
                tasks = [
                    asyncio.create_task(_run_periodically(job, context), name=job.name)
                    for feature in features
                    for job in feature.periodic_jobs
                ]
            log.info("server started", extra={"features": [f.name for f in features]})
            if app.state.freeze_gc:
                freeze_startup_objects()
            yield
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        context.database.dispose()


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    sms_sender: SmsSender | None = None,
    database: Database | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """Build the server app. Pass ``clock``/``sms_sender``/``database`` to replace the defaults;
    ``freeze_gc`` (the server process) freezes the start-up objects for the garbage collector
    once the lifespan has started (:func:`server.process.freeze_startup_objects`)."""
    settings = settings or get_settings()
    database = database or Database.connect(settings.database_url)
    context = ServerContext(
        settings=settings,
        database=database,
        clock=clock or utc_now,
        sms_sender=sms_sender or make_sms_sender(settings),
    )
    features = discover_features()
    app = FastAPI(
        title="Admit",
        summary="Tickets, check-in and the gate fleet.",
        version="0.1.0",
        lifespan=_lifespan,
    )
    state: dict[str, Any] = {
        "settings": settings,
        "database": database,
        "database_gate": RequestGate(database.dialect),
        "clock": context.clock,
        "sms_sender": context.sms_sender,
        "context": context,
        "features": features,
        "freeze_gc": freeze_gc,
    }
    for name, value in state.items():
        setattr(app.state, name, value)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, default_language=settings.language)
    app.include_router(health_router)
    for feature in features:
        for router in feature.routers:
            app.include_router(PathFilteredRouter(router))
    return app
