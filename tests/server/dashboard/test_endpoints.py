"""The dashboard page and its live SSE stream, fed by the bridge from a real broker."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

from server.accounts.models import MerchantRole
from server.fleet.bridge import FleetBridge
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import WAIT_SECONDS, FakeKiosk, wait_until
from tests.server.helpers import AccountFactory


@contextmanager
def sse_events(base_url: str, headers: dict[str, str]) -> Iterator[queue.Queue[tuple[str, str]]]:
    """Read the stream on a thread; yields a queue of (event, data) pairs."""
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        with (
            httpx.Client(base_url=base_url, timeout=None) as client,
            client.stream("GET", "/api/v1/dashboard/stream", headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    events.put((kind, line[len("data: ") :]))
                elif line.startswith(": heartbeat"):
                    events.put(("heartbeat", ""))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield events
    finally:
        stop.set()


def _next(events: queue.Queue[tuple[str, str]], kind: str) -> dict[str, object]:
    """The next event of ``kind``, skipping others."""
    return _collect(events, {kind})[kind]


def _collect(events: queue.Queue[tuple[str, str]], kinds: set[str]) -> dict[str, dict[str, object]]:
    """The first event of each of ``kinds``, in whatever order they come."""
    found: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + WAIT_SECONDS
    while set(found) != kinds:
        got, data = events.get(timeout=max(0.0, deadline - time.monotonic()))
        if got in kinds and got not in found:
            found[got] = json.loads(data) if data else {}
    return found


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
