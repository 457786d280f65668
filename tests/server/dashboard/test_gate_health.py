"""Gate health on the dashboard: the JSON endpoint, the page, and the live stream (a kiosk's
telemetry through a real broker and the bridge; staleness as the app's clock moves on)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from protocol import messages
from protocol.messages import Telemetry
from server.accounts.models import MerchantRole
from server.clock import ManualClock
from server.db import Database
from server.fleet.bridge import FleetBridge
from server.fleet.models import Gate
from tests.server.dashboard.sse import next_event, sse_events
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import WAIT_SECONDS, FakeKiosk
from tests.server.helpers import AccountFactory

HOT = {"cpu_temp_c": 85.5, "decode_ms_p50": 6.53, "outbox_depth": 2, "uptime_s": 7384.2}


def store_telemetry(
    database: Database, gate_id: int, metrics: dict[str, float], at: datetime
) -> None:
    """Arrange a gate's latest telemetry as the bridge stores it."""
    with database.sessions.begin() as session:
        session.execute(
            update(Gate).where(Gate.id == gate_id).values(telemetry=metrics, telemetry_at=at)
        )


def send_telemetry(kiosk: FakeKiosk, metrics: dict[str, float]) -> None:
    message = Telemetry(gate=kiosk.gate, metrics=metrics, ts=int(time.time() * 1000))
    kiosk.publish_raw(kiosk.topics.gate_topic(kiosk.gate, "telemetry"), messages.encode(message))


def next_health(events: Any, gate_id: int, **expected: object) -> dict[str, Any]:
    """The next ``health`` event of the gate whose fields match ``expected``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        assert time.monotonic() < deadline, f"no health event with {expected}"
        view = next_event(events, "health")
        if view["gate_id"] == gate_id and all(view[k] == v for k, v in expected.items()):
            return view


def test_health_endpoint_judges_each_gate(
    world: FleetWorld, http: httpx.Client, database: Database, clock: ManualClock
) -> None:
    hot = world.gate("north-1")
    quiet = world.gate("south-1")
    store_telemetry(database, hot["id"], HOT, clock() - timedelta(seconds=40))

    response = http.get(
        "/api/v1/dashboard/health", headers={**world.headers, "Accept-Language": "en"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == {"ok": 0, "warn": 0, "critical": 1, "unknown": 1}
    by_key = {gate["key"]: gate for gate in body["gates"]}
    north, south = by_key["north-1"], by_key["south-1"]
    assert north["gate_id"] == hot["id"] and north["level"] == "critical"
    assert north["age_s"] == 40 and north["stale"] is False and north["age_text"] == "40 s"
    figures = [(m["name"], m["value"], m["unit"], m["level"], m["text"]) for m in north["metrics"]]
    assert figures == [
        ("cpu_temp_c", 85.5, "°C", "critical", "85.5 °C"),
        ("decode_ms_p50", 6.53, "ms", "ok", "6.53 ms"),
        ("outbox_depth", 2, "", "ok", "2"),
        ("uptime_s", 7384.2, "s", "ok", "2 h 3 min"),
    ]
    assert north["issues"] == [
        {
            "code": "cpu_temp_c",
            "level": "critical",
            "value": 85.5,
            "limit": 80,
            "unit": "°C",
            "text": "CPU temperature 85.5 °C (≥ 80 °C)",
        }
    ]
    assert south["gate_id"] == quiet["id"] and south["level"] == "unknown"
    assert [issue["code"] for issue in south["issues"]] == ["no_telemetry"]


def test_health_endpoint_flags_stale_telemetry_in_chinese(
    world: FleetWorld, http: httpx.Client, database: Database, clock: ManualClock
) -> None:
    gate = world.gate("north-1")
    store_telemetry(database, gate["id"], {"cpu_temp_c": 50}, clock() - timedelta(minutes=4))

    body = http.get(
        "/api/v1/dashboard/health", headers={**world.headers, "Accept-Language": "zh-CN"}
    ).json()

    (north,) = body["gates"]
    assert north["level"] == "warn" and north["stale"] is True
    assert north["level_text"] == "警告" and north["age_text"] == "4分钟"
    assert [i["text"] for i in north["issues"]] == ["遥测数据过期（3分钟以上未更新）"]


def test_health_endpoint_shows_only_the_viewers_gates_and_only_to_gate_staff(
    world: FleetWorld, http: httpx.Client, accounts: AccountFactory
) -> None:
    world.gate("north-1")
    other = accounts.merchant("Other")
    checker = accounts.staff(world.shop.merchant, MerchantRole.CHECKER)
    operator = accounts.staff(world.shop.merchant, MerchantRole.GATE_OPERATOR)

    theirs = http.get("/api/v1/dashboard/health", headers=other.owner.headers)
    mine = http.get("/api/v1/dashboard/health", headers=operator.headers)

    assert theirs.status_code == 200 and theirs.json()["gates"] == []
    assert [gate["key"] for gate in mine.json()["gates"]] == ["north-1"]
    assert http.get("/api/v1/dashboard/health", headers=checker.headers).status_code == 403
    assert http.get("/api/v1/dashboard/health").status_code == 401


def test_page_shows_telemetry_with_units_and_warnings(
    world: FleetWorld, http: httpx.Client, database: Database, clock: ManualClock
) -> None:
    gate = world.gate("north-1", name="North <b>1</b>")
    store_telemetry(database, gate["id"], HOT, clock() - timedelta(seconds=90))
    http.get(f"/dashboard?token={world.shop.merchant.owner.token}", follow_redirects=False)

    en = http.get("/dashboard", headers={"Accept-Language": "en"}).text
    zh = http.get("/dashboard", headers={"Accept-Language": "zh-CN"}).text

    assert f'<tr id="health-{gate["id"]}" class="health level-critical"' in en
    assert "CPU temperature <b>85.5 °C</b>" in en
    assert "Decode time (median) <b>6.53 ms</b>" in en
    assert "Uptime <b>2 h 3 min</b>" in en
    assert "⚠ Critical" in en and "CPU temperature 85.5 °C (≥ 80 °C)" in en
    assert "1 min 30 s ago" in en
    assert "North &lt;b&gt;1&lt;/b&gt;" in en and "North <b>1</b>" not in en
    assert "CPU 温度 <b>85.5 °C</b>" in zh and "运行时长 <b>2小时3分钟</b>" in zh
    assert "1分钟30秒前" in zh


def test_stream_delivers_telemetry_changes_and_staleness_live(
    world: FleetWorld, app: FastAPI, served: str, mqtt_url: str, clock: ManualClock
) -> None:
    bridge: FleetBridge = app.state.fleet_bridge
    assert bridge.wait_connected(WAIT_SECONDS)
    answer = world.enroll("north-1")
    gate_id = answer["gate_id"]
    kiosk = FakeKiosk(
        mqtt_url, site=answer["site"], gate="north-1", root=world.fleet_settings.mqtt_root
    )
    headers = {**world.headers, "Accept-Language": "en"}
    try:
        with sse_events(served, headers) as tab:
            next_event(tab, "hello")
            first = next_health(tab, gate_id)
            assert first["level"] == "unknown"

            send_telemetry(kiosk, HOT)
            hot = next_health(tab, gate_id, level="critical")
            assert {m["name"]: m["text"] for m in hot["metrics"]}["cpu_temp_c"] == "85.5 °C"
            assert 'class="health level-critical"' in hot["html"]
            assert "CPU temperature <b>85.5 °C</b>" in hot["html"]
            assert hot["checked_at"] == clock().isoformat()

            send_telemetry(kiosk, {**HOT, "cpu_temp_c": 52.0})
            cool = next_health(tab, gate_id, level="ok")
            assert "CPU temperature <b>52 °C</b>" in cool["html"]

            clock.advance(timedelta(minutes=4))  # no message at all: the poll notices
            stale = next_health(tab, gate_id, level="warn")
            assert stale["stale"] is True
            assert [issue["code"] for issue in stale["issues"]] == ["telemetry_stale"]
            assert "Telemetry stale" in stale["html"]
    finally:
        kiosk.close()
