"""Gate health in words: values with units, durations, issue texts, in the viewer's language.

Pure (no I/O): :func:`gate_view` turns one gate's row and its :class:`~server.dashboard.health.
GateHealth` into the JSON-able dict the page, the live stream and ``GET /api/v1/dashboard/
health`` share. Raw numbers stay beside the texts, so tools never parse a text.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from server.dashboard import messages as _messages  # noqa: F401  (registers the texts used here)
from server.dashboard.health import (
    NO_TELEMETRY,
    RULES,
    TELEMETRY_STALE,
    GateHealth,
    Issue,
    Unit,
)
from server.dashboard.repository import GateTelemetryRow
from server.i18n import has_message, translate

#: Largest unit first; a duration shows its two largest non-zero parts ("2 h 5 min").
_DURATION_PARTS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_number(value: float) -> str:
    """A metric value for people: integers as such, fractions to two significant decimals."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    if float(value).is_integer():
        return str(int(value))
    text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".")


def format_duration(seconds: float, language: str) -> str:
    """``seconds`` as its two largest parts: "3 d 4 h", "5 min 3 s" / "3天4小时", "5分钟3秒"."""
    if not math.isfinite(seconds) or seconds >= 1e12:
        return format_number(seconds) + " s"
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in _DURATION_PARTS:
        amount, left = divmod(left, size)
        if amount and len(parts) < 2:
            parts.append(translate(f"dashboard.unit_{unit}", language, n=amount))
        elif parts:
            break
    if len(parts) == 2:
        return translate("dashboard.duration_two", language, a=parts[0], b=parts[1])
    return parts[0] if parts else translate("dashboard.unit_s", language, n=0)


def format_value(value: float, unit: Unit, language: str) -> str:
    if unit is Unit.SECONDS:
        return format_duration(value, language)
    text = format_number(value)
    return f"{text} {unit.value}" if unit.value else text


def metric_label(name: str, language: str) -> str:
    """The metric's name in words; a metric without a text shows its own name."""
    key = f"dashboard.metric_{name}"
    return translate(key, language) if has_message(key) else name


def issue_text(issue: Issue, language: str) -> str:
    if issue.code == NO_TELEMETRY:
        return translate("dashboard.issue_no_telemetry", language)
    limit = "" if issue.limit is None else format_value(issue.limit, issue.unit, language)
    if issue.code == TELEMETRY_STALE:
        return translate("dashboard.issue_telemetry_stale", language, limit=limit)
    value = "" if issue.value is None else format_value(issue.value, issue.unit, language)
    rule = RULES.get(issue.code)
    return translate(
        "dashboard.issue_metric",
        language,
        label=metric_label(issue.code, language),
        value=value,
        op="≤" if rule is not None and rule.low_is_bad else "≥",
        limit=limit,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def gate_view(row: GateTelemetryRow, health: GateHealth, language: str) -> dict[str, Any]:
    """One gate's health as the page, the stream and the endpoint show it."""
    return {
        "gate_id": row.gate_id,
        "site": row.site,
        "key": row.key,
        "name": row.name,
        "state": row.state,
        "level": health.level.value,
        "level_text": translate(f"dashboard.level_{health.level.value}", language),
        "telemetry_at": _iso(row.telemetry_at),
        "age_s": health.age_s,
        "age_text": None if health.age_s is None else format_duration(health.age_s, language),
        "stale": health.stale,
        "metrics": [
            {
                "name": metric.name,
                "label": metric_label(metric.name, language),
                "value": metric.value,
                "unit": metric.unit.value,
                "level": metric.level.value,
                "limit": metric.limit,
                "text": format_value(metric.value, metric.unit, language),
            }
            for metric in health.metrics
        ],
        "issues": [
            {
                "code": issue.code,
                "level": issue.level.value,
                "value": issue.value,
                "limit": issue.limit,
                "unit": issue.unit.value,
                "text": issue_text(issue, language),
            }
            for issue in health.issues
        ],
    }


def signature(row: GateTelemetryRow, health: GateHealth) -> tuple[object, ...]:
    """What, when it changes, makes the stream send a gate's health again: everything but the
    age, which the page counts up on its own (a stale gate is not re-sent every poll)."""
    return (
        row.name,
        row.state,
        row.telemetry_at,
        health.level,
        tuple((m.name, m.value, m.level) for m in health.metrics),
        tuple((issue.code, issue.level, issue.limit) for issue in health.issues),
    )
