"""The fleet's part of the app lifespan: settings, the live feed, and (when
``ADMIT_MQTT_BRIDGE`` is on) the MQTT bridge in this process."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from server.features import ServerContext
from server.fleet.bridge import FleetBridge, start_bridge
from server.fleet.live import LiveFeed
from server.fleet.settings import FleetSettings, get_fleet_settings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def fleet_service(app: FastAPI) -> AsyncIterator[None]:
    """Uses ``app.state.fleet_settings`` when a caller set it before start-up (``admit demo``,
    tests), else the environment; leaves ``app.state.fleet_feed`` and ``.fleet_bridge``."""
    context: ServerContext = app.state.context
    fleet_settings: FleetSettings = (
        getattr(app.state, "fleet_settings", None) or get_fleet_settings()
    )
    app.state.fleet_settings = fleet_settings
    feed: LiveFeed = getattr(app.state, "fleet_feed", None) or LiveFeed()
    app.state.fleet_feed = feed
    bridge: FleetBridge | None = None
    if fleet_settings.mqtt_bridge:
        bridge = await run_in_threadpool(
            start_bridge, context.database, fleet_settings, clock=context.clock, feed=feed
        )
    app.state.fleet_bridge = bridge
    try:
        yield
    finally:
        if bridge is not None:
            await run_in_threadpool(bridge.stop)
        app.state.fleet_bridge = None
