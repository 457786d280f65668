"""The gate health rules (pure): thresholds, staleness (by the gate's own report interval),
units, and robustness to odd rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.dashboard.health import (
    DEAD_AFTER,
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    NO_TELEMETRY,
    RULES,
    SEVERITY,
    STALE_AFTER,
    TELEMETRY_STALE,
    GateHealth,
    Issue,
    Level,
    Unit,
    assess,
    assess_metric,
    report_interval,
    staleness,
    unit_of,
)

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
#: Fresh whatever interval a gate reports: every stale limit is at least 3 x MIN_INTERVAL (30 s).
FRESH = NOW - timedelta(seconds=20)
RULED = sorted(name for name, rule in RULES.items() if rule.warn is not None)

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


def level_of(name: str, value: float) -> Level:
    return assess_metric(name, value).level


@pytest.mark.parametrize(
    ("name", "value", "level"),
    [
        ("cpu_temp_c", 51.2, Level.OK),
        ("cpu_temp_c", 69.9, Level.OK),
        ("cpu_temp_c", 70, Level.WARN),
        ("cpu_temp_c", 80, Level.CRITICAL),
        ("decode_ms_p50", 6.5, Level.OK),
        ("decode_ms_p50", 33, Level.WARN),
        ("decode_ms_p50", 120, Level.CRITICAL),
        ("outbox_depth", 0, Level.OK),
        ("outbox_depth", 99, Level.OK),
        ("outbox_depth", 100, Level.WARN),
        ("outbox_depth", 5000, Level.CRITICAL),
        ("disk_free_pct", 40, Level.OK),
        ("disk_free_pct", 10, Level.WARN),
        ("disk_free_pct", 4.5, Level.CRITICAL),
        ("disk_free_mb", 300, Level.WARN),
        ("uptime_s", 0, Level.OK),
        ("link_reconnects", 10_000, Level.OK),
        ("some_vendor_metric", 1e9, Level.OK),
    ],
)
def test_thresholds(name: str, value: float, level: Level) -> None:
    assert level_of(name, value) == level


def test_an_unhealthy_metric_names_the_limit_it_reached() -> None:
    assert assess_metric("cpu_temp_c", 82).limit == 80
    assert assess_metric("disk_free_pct", 8).limit == 10
    assert assess_metric("cpu_temp_c", 40).limit is None


@given(st.sampled_from(RULED), finite, finite)
def test_a_worse_value_is_never_judged_better(name: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    if RULES[name].low_is_bad:
        low, high = high, low  # for free space, more is better
    assert SEVERITY[level_of(name, low)] <= SEVERITY[level_of(name, high)]


@given(st.dictionaries(st.sampled_from([*sorted(RULES), "x_ms", "y"]), finite, max_size=8))
def test_the_gate_is_as_bad_as_its_worst_metric(telemetry: dict[str, float]) -> None:
    health = assess(telemetry, FRESH, NOW)

    worst = max((SEVERITY[m.level] for m in health.metrics), default=SEVERITY[Level.OK])
    assert SEVERITY[health.level] == worst
    assert {i.code for i in health.issues} == {m.name for m in health.metrics if m.level != "ok"}
    assert not health.stale


@given(st.floats(min_value=0, max_value=10 * 86400))
def test_telemetry_turns_stale_then_critical_as_time_passes(age: float) -> None:
    health = assess({"cpu_temp_c": 40}, NOW - timedelta(seconds=age), NOW)
    stale = [issue for issue in health.issues if issue.code == TELEMETRY_STALE]

    assert health.stale == (timedelta(seconds=age) >= STALE_AFTER)
    if timedelta(seconds=age) >= DEAD_AFTER:
        assert health.level == Level.CRITICAL and stale[0].limit == DEAD_AFTER.total_seconds()
    elif health.stale:
        assert health.level == Level.WARN and stale[0].limit == STALE_AFTER.total_seconds()
    else:
        assert health.level == Level.OK and not stale
    assert health.age_s is not None and math.isclose(health.age_s, age, abs_tol=1e-5)


def test_stale_and_hot_reports_both_issues_stale_first() -> None:
    health = assess({"cpu_temp_c": 85}, NOW - timedelta(minutes=5), NOW)

    assert [i.code for i in health.issues] == [TELEMETRY_STALE, "cpu_temp_c"]
    assert [i.level for i in health.issues] == [Level.WARN, Level.CRITICAL]
    assert health.level == Level.CRITICAL


def test_telemetry_stamped_after_now_counts_as_fresh() -> None:
    health = assess({"uptime_s": 10}, NOW + timedelta(seconds=5), NOW)

    assert health.age_s == 0 and not health.stale and health.level == Level.OK


@pytest.mark.parametrize(("telemetry", "at"), [(None, None), ({"cpu_temp_c": 40}, None)])
def test_no_telemetry_is_unknown_not_healthy(telemetry: dict[str, Any] | None, at: None) -> None:
    health = assess(telemetry, at, NOW)

    assert health.level == Level.UNKNOWN
    assert [i.code for i in health.issues] == [NO_TELEMETRY]
    assert health.metrics == () and health.age_s is None


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=10) | json_values)
def test_any_stored_json_is_judged_without_raising(telemetry: Any) -> None:
    health = assess(telemetry, FRESH, NOW)

    for metric in health.metrics:
        assert isinstance(metric.value, int | float) and not isinstance(metric.value, bool)
        assert math.isfinite(metric.value)
    if not isinstance(telemetry, dict):
        assert health.level == Level.UNKNOWN


def test_metrics_come_in_rule_order_then_by_name() -> None:
    health = assess(
        {"zeta": 1, "uptime_s": 5, "alpha": 2, "cpu_temp_c": 40, "outbox_depth": 0}, FRESH, NOW
    )

    assert [m.name for m in health.metrics] == [
        "cpu_temp_c",
        "outbox_depth",
        "uptime_s",
        "alpha",
        "zeta",
    ]


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("cpu_temp_c", Unit.CELSIUS),
        ("decode_ms_p50", Unit.MILLISECONDS),
        ("decode_ms_p99", Unit.MILLISECONDS),
        ("disk_free_mb", Unit.MEGABYTES),
        ("disk_free_pct", Unit.PERCENT),
        ("uptime_s", Unit.SECONDS),
        ("outbox_depth", Unit.COUNT),
        ("scans_decided", Unit.COUNT),
        ("ms", Unit.COUNT),
        ("c", Unit.COUNT),
    ],
)
def test_units_come_from_the_name(name: str, unit: Unit) -> None:
    assert unit_of(name) == unit


@given(st.text(max_size=30))
def test_every_name_has_a_unit(name: str) -> None:
    assert unit_of(name) in Unit


# --- staleness by the gate's own report interval ------------------------------------------------

intervals = st.floats(min_value=0.001, max_value=1e12)


def stale_issue(health: GateHealth) -> Issue | None:
    return next((issue for issue in health.issues if issue.code == TELEMETRY_STALE), None)


def test_the_default_interval_keeps_the_old_limits() -> None:
    assert report_interval({}) == DEFAULT_INTERVAL == timedelta(seconds=60)
    assert timedelta(minutes=3) == STALE_AFTER
    assert timedelta(minutes=15) == DEAD_AFTER
    assert staleness(DEFAULT_INTERVAL) == (STALE_AFTER, DEAD_AFTER)


@pytest.mark.parametrize(
    ("interval_s", "stale_after", "dead_after"),
    [
        (60, 180, 900),
        (60.0, 180, 900),
        (30, 90, 900),  # reports often: stale sooner, still 15 min before critical
        (10, 30, 900),
        (2, 30, 900),  # below MIN_INTERVAL: 3 missed reports would be a hiccup
        (120, 360, 1800),  # rare reports: 15 chances before critical
        (300, 900, 4500),
        (3600, 10800, 54000),
        (86400, 10800, 54000),  # above MAX_INTERVAL: never watched less than hourly
        (1e300, 10800, 54000),
    ],
)
def test_limits_follow_the_reported_interval(
    interval_s: float, stale_after: float, dead_after: float
) -> None:
    stale, dead = staleness(report_interval({"interval_s": interval_s}))

    assert (stale.total_seconds(), dead.total_seconds()) == (stale_after, dead_after)


@pytest.mark.parametrize("interval_s", [0, -60, None, True, "300", [300], math.nan, math.inf])
def test_a_nonsense_interval_falls_back_to_the_default(interval_s: object) -> None:
    assert report_interval({"interval_s": interval_s}) == DEFAULT_INTERVAL


@given(intervals)
def test_stale_after_three_missed_reports_and_dead_no_sooner_than_fifteen_minutes(
    interval_s: float,
) -> None:
    interval = report_interval({"interval_s": interval_s})
    stale, dead = staleness(interval)

    assert MIN_INTERVAL <= interval <= MAX_INTERVAL
    assert stale == 3 * interval
    assert dead == max(15 * interval, timedelta(minutes=15))
    assert stale < dead
    assert stale > NOW - FRESH


@given(intervals, intervals)
def test_a_gate_reporting_more_rarely_is_never_judged_stale_sooner(a: float, b: float) -> None:
    often, rarely = (staleness(report_interval({"interval_s": s})) for s in sorted((a, b)))

    assert often[0] <= rarely[0] and often[1] <= rarely[1]


@given(intervals, st.floats(min_value=0, max_value=30 * 86400))
def test_telemetry_of_any_interval_turns_stale_then_critical(interval_s: float, age: float) -> None:
    telemetry = {"interval_s": interval_s, "cpu_temp_c": 40}
    health = assess(telemetry, NOW - timedelta(seconds=age), NOW)
    stale_after, dead_after = staleness(report_interval(telemetry))
    issue = stale_issue(health)
    elapsed = timedelta(seconds=age)

    assert health.stale == (elapsed >= stale_after)
    if elapsed >= dead_after:
        assert issue is not None and issue.limit == dead_after.total_seconds()
        assert health.level == Level.CRITICAL
    elif elapsed >= stale_after:
        assert issue is not None and issue.limit == stale_after.total_seconds()
        assert health.level == Level.WARN
    else:
        assert issue is None and health.level == Level.OK


def test_a_gate_reporting_every_five_minutes_is_not_late_after_four() -> None:
    at = NOW - timedelta(minutes=4)

    assert assess({"interval_s": 300}, at, NOW).level == Level.OK
    assert assess({}, at, NOW).level == Level.WARN  # the 60 s default would call it stale
    late = assess({"interval_s": 300}, NOW - timedelta(minutes=20), NOW)
    assert late.level == Level.WARN and late.stale
    dead = assess({"interval_s": 300}, NOW - timedelta(minutes=75), NOW)
    assert dead.level == Level.CRITICAL


def test_the_interval_is_shown_as_a_duration_and_never_warned_about() -> None:
    health = assess({"interval_s": 60.0, "uptime_s": 5}, FRESH, NOW)

    assert [(m.name, m.unit, m.level) for m in health.metrics] == [
        ("uptime_s", Unit.SECONDS, Level.OK),
        ("interval_s", Unit.SECONDS, Level.OK),
    ]
    assert health.issues == ()
