"""Feature packages plug in: routers mounted, services entered and left, periodic jobs run and
survive their own failures."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

import server.app
from server.app import create_app
from server.features import Feature, PeriodicJob, ServerContext, discover_features
from server.settings import Settings


def test_accounts_is_discovered() -> None:
    assert "accounts" in [feature.name for feature in discover_features()]


def test_a_features_router_service_and_job_are_wired(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    job_ran = threading.Event()
    calls = 0

    def flaky_job(context: ServerContext, now: datetime) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first run fails")
        assert now.tzinfo is not None
        job_ran.set()

    @asynccontextmanager
    async def service(app: FastAPI) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    router = APIRouter()

    @router.get("/api/probe")
    def probe() -> dict[str, str]:
        return {"probe": "ok"}

    feature = Feature(
        name="probe",
        routers=(router,),
        services=(service,),
        periodic_jobs=(PeriodicJob("probe-job", timedelta(milliseconds=10), flaky_job),),
    )
    monkeypatch.setattr(server.app, "discover_features", lambda: [feature])
    app = create_app(settings.model_copy(update={"background_jobs": True}))
    with TestClient(app) as client:
        assert client.get("/api/probe").json() == {"probe": "ok"}
        assert events == ["start"]
        assert job_ran.wait(timeout=30), "the job never succeeded after its first failure"
    assert events == ["start", "stop"]
    assert calls >= 2
