"""Fleet fixtures: the app with explicit fleet settings (no bridge unless a test starts one),
and a merchant with a venue, a zone, an event and a ticket type to put gates in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.clock import ManualClock
from server.fleet.settings import FleetSettings
from server.settings import Settings
from tests.server.catalog.builders import OnSale, on_sale
from tests.server.fleet.helpers import FleetWorld
from tests.server.helpers import AccountFactory


@pytest.fixture
def fleet_settings(tmp_path: Path) -> FleetSettings:
    return FleetSettings(mqtt_bridge=False, mqtt_url="mqtt://127.0.0.1:1883", mqtt_root="admit")


@pytest.fixture
def app(settings: Settings, clock: ManualClock, fleet_settings: FleetSettings) -> Iterator[FastAPI]:
    application = create_app(settings, clock=clock)
    application.state.fleet_settings = fleet_settings
    yield application
    application.state.database.dispose()


@pytest.fixture
def shop(client: TestClient, accounts: AccountFactory, clock: ManualClock) -> OnSale:
    return on_sale(client, accounts.merchant("Gate shop"), clock())


@pytest.fixture
def world(client: TestClient, shop: OnSale, fleet_settings: FleetSettings) -> FleetWorld:
    return FleetWorld(client, shop, fleet_settings)
