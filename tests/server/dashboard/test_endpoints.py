"""The dashboard page and its live SSE stream, fed by the bridge from a real broker."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from server.accounts.models import MerchantRole
from server.fleet.bridge import FleetBridge
from tests.server.dashboard.sse import collect as _collect
from tests.server.dashboard.sse import next_event as _next
from tests.server.dashboard.sse import sse_events
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import WAIT_SECONDS, FakeKiosk, wait_until
from tests.server.helpers import AccountFactory


def test_stream_delivers_an_ingested_scan_to_every_open_tab(
    world: FleetWorld, app: FastAPI, served: str, mqtt_url: str
) -> None:
    bridge: FleetBridge = app.state.fleet_bridge
    assert bridge.wait_connected(WAIT_SECONDS)
    answer = world.enroll("north-1")
    kiosk = FakeKiosk(
        mqtt_url, site=answer["site"], gate="north-1", root=world.fleet_settings.mqtt_root
    )
    try:
        with sse_events(served, world.headers) as tab1, sse_events(served, world.headers) as tab2:
            _next(tab1, "hello")
            _next(tab2, "hello")
            scan = kiosk.scan(decision="rejected", reason="revoked")
            kiosk.send(scan)
            kiosk.send(kiosk.status("online"))

            for tab in (tab1, tab2):
                got = _collect(tab, {"scan", "gate"})
                assert got["scan"]["scan_id"] == scan.scan_id
                assert got["scan"]["reason"] == "revoked"
                assert got["scan"]["gate_id"] == answer["gate_id"]
                assert got["gate"]["state"] == "online"
            assert _next(tab1, "heartbeat") == {}
    finally:
        kiosk.close()


def test_another_merchants_stream_stays_silent(
    world: FleetWorld, app: FastAPI, served: str, mqtt_url: str, accounts: AccountFactory
) -> None:
    bridge: FleetBridge = app.state.fleet_bridge
    assert bridge.wait_connected(WAIT_SECONDS)
    answer = world.enroll("north-1")
    other = accounts.merchant("Other")
    kiosk = FakeKiosk(
        mqtt_url, site=answer["site"], gate="north-1", root=world.fleet_settings.mqtt_root
    )
    try:
        with (
            sse_events(served, other.owner.headers) as theirs,
            sse_events(served, world.headers) as mine,
        ):
            _next(theirs, "hello")
            _next(mine, "hello")
            kiosk.send(kiosk.scan())
            _next(mine, "scan")
            wait_until(lambda: theirs.qsize() >= 1, "a heartbeat on the other stream")
            kinds = {theirs.get_nowait()[0] for _ in range(theirs.qsize())}
            assert kinds == {"heartbeat"}
    finally:
        kiosk.close()


def test_page_logs_in_by_token_and_shows_gates(world: FleetWorld, http: httpx.Client) -> None:
    world.gate("north-1")
    token = world.shop.merchant.owner.token

    login = http.get("/dashboard", headers={"Accept-Language": "en"})
    redirect = http.get(f"/dashboard?token={token}", follow_redirects=False)
    page = http.get("/dashboard", headers={"Accept-Language": "zh-CN"})

    assert "Staff login" in login.text
    assert redirect.status_code == 303 and redirect.headers["location"] == "/dashboard"
    assert "admit_token" in redirect.headers["set-cookie"]
    assert "闸机监控" in page.text
    assert "north-1" in page.text


def test_checkers_may_not_watch_the_gates(
    world: FleetWorld, http: httpx.Client, accounts: AccountFactory
) -> None:
    checker = accounts.staff(world.shop.merchant, MerchantRole.CHECKER)

    stream = http.get("/api/v1/dashboard/stream", headers=checker.headers)
    page = http.get(f"/dashboard?token={checker.token}", follow_redirects=True)

    assert stream.status_code == 403
    assert "login" in page.text.lower()
