"""Request-level dependencies every feature package uses (besides :data:`server.db.DbSession`,
:data:`server.clock.Now` and the guards in :mod:`server.accounts.dependencies`).

They only read the app's state, so they are ``async``: FastAPI calls them on the event loop
instead of sending each to a worker thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.errors import request_language
from server.features import ServerContext
from server.settings import Settings
from server.sms import SmsSender


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sms_sender(request: Request) -> SmsSender:
    sender: SmsSender = request.app.state.sms_sender
    return sender


async def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


async def get_client_ip(request: Request) -> str:
    """The caller's address as the server sees it (run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` behind a proxy so this is the visitor, not the proxy)."""
    return request.client.host if request.client else "unknown"


AppSettings = Annotated[Settings, Depends(get_app_settings)]
AppSmsSender = Annotated[SmsSender, Depends(get_sms_sender)]
AppContext = Annotated[ServerContext, Depends(get_context)]
ClientIp = Annotated[str, Depends(get_client_ip)]


async def get_language(request: Request) -> str:
    return request_language(request)


#: The request's language: Accept-Language matched to zh-CN/en, else the server's default.
Language = Annotated[str, Depends(get_language)]
