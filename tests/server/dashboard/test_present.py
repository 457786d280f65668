"""Gate health in words (pure): numbers, durations, issue texts in zh-CN and en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.dashboard.health import Unit, assess
from server.dashboard.present import (
    format_duration,
    format_number,
    format_value,
    gate_view,
    signature,
)
from server.dashboard.repository import GateTelemetryRow

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def row(telemetry: dict[str, float] | None, at: datetime | None) -> GateTelemetryRow:
    return GateTelemetryRow(7, "expo-hall", "north-1", "North <1>", "online", telemetry, at)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (12, "12"), (82.0, "82"), (51.25, "51.2"), (6.53, "6.53"), (0.5, "0.5"), (-3, "-3")],
)
def test_numbers(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (0, "0 s", "0秒"),
        (42.9, "42 s", "42秒"),
        (200, "3 min 20 s", "3分钟20秒"),
        (7384.2, "2 h 3 min", "2小时3分钟"),
        (3600, "1 h", "1小时"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h", "3天4小时"),
        (86400 + 30, "1 d", "1天"),
    ],
)
def test_durations(seconds: float, en: str, zh: str) -> None:
    assert format_duration(seconds, "en") == en
    assert format_duration(seconds, "zh-CN") == zh


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(list(Unit)))
def test_every_finite_value_has_a_text(value: float, unit: Unit) -> None:
    for language in ("en", "zh-CN"):
        assert format_value(value, unit, language)


def test_view_has_values_with_units_and_issue_texts_in_both_languages() -> None:
    telemetry = {"cpu_temp_c": 82.0, "disk_free_pct": 4, "uptime_s": 7384.2, "outbox_depth": 3}
    gate = row(telemetry, NOW - timedelta(minutes=4))
    health = assess(gate.telemetry, gate.telemetry_at, NOW)

    en = gate_view(gate, health, "en")
    zh = gate_view(gate, health, "zh-CN")

    assert en["level"] == "critical" and en["level_text"] == "Critical"
    assert {m["name"]: m["text"] for m in en["metrics"]} == {
        "cpu_temp_c": "82 °C",
        "disk_free_pct": "4 %",
        "uptime_s": "2 h 3 min",
        "outbox_depth": "3",
    }
    assert [i["text"] for i in en["issues"]] == [
        "Telemetry stale (nothing for 3 min or more)",
        "CPU temperature 82 °C (≥ 80 °C)",
        "Disk free 4 % (≤ 5 %)",
    ]
    assert en["age_text"] == "4 min"
    assert zh["level_text"] == "严重"
    assert [i["text"] for i in zh["issues"]][1] == "CPU 温度 82 °C（≥ 80 °C）"
    assert zh["age_text"] == "4分钟"


def test_no_telemetry_reads_as_such() -> None:
    view = gate_view(row(None, None), assess(None, None, NOW), "en")

    assert view["level"] == "unknown" and view["age_text"] is None
    assert [i["text"] for i in view["issues"]] == ["No telemetry yet"]


def test_signature_ignores_the_age_but_not_the_figures() -> None:
    at = NOW - timedelta(minutes=5)
    gate = row({"cpu_temp_c": 50}, at)
    hotter = row({"cpu_temp_c": 75}, at)

    later = signature(gate, assess(gate.telemetry, at, NOW + timedelta(minutes=1)))
    assert signature(gate, assess(gate.telemetry, at, NOW)) == later
    assert signature(hotter, assess(hotter.telemetry, at, NOW)) != later
    dead = signature(gate, assess(gate.telemetry, at, NOW + timedelta(minutes=20)))
    assert dead != later
