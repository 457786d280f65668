"""Dashboard fixtures: the app served by a real uvicorn in a thread (SSE needs a real HTTP
connection: the test client buffers whole responses), with the MQTT bridge on a real broker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.clock import ManualClock
from server.fleet.settings import FleetSettings
from server.settings import Settings
from tests.server.catalog.builders import OnSale, on_sale
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import wait_until
from tests.server.helpers import AccountFactory
from tests.support.brokers import free_port


@pytest.fixture
def fleet_settings(mqtt_url: str) -> FleetSettings:
    return FleetSettings(
        mqtt_bridge=True,
        mqtt_url=mqtt_url,
        mqtt_root=f"t{uuid.uuid4().hex[:10]}",
        mqtt_client_id=f"server-{uuid.uuid4().hex[:10]}",
        mqtt_share_group=f"g{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def app(settings: Settings, clock: ManualClock, fleet_settings: FleetSettings) -> Iterator[FastAPI]:
    application = create_app(settings, clock=clock)
    application.state.fleet_settings = fleet_settings
    application.state.dashboard_heartbeat = 0.5
    application.state.dashboard_health_poll = 0.2
    yield application
    application.state.database.dispose()


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The app on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def http(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, timeout=30) as client:
        yield client


@pytest.fixture
def world(
    http: httpx.Client, accounts: AccountFactory, clock: ManualClock, fleet_settings: FleetSettings
) -> FleetWorld:
    # httpx.Client speaks the same API as the TestClient the builders are typed for.
    client = cast(TestClient, http)
    shop: OnSale = on_sale(client, accounts.merchant("Dashboard shop"), clock())
    return FleetWorld(client, shop, fleet_settings)
