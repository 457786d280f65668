"""Response bodies of the dashboard API (the health summary tools read)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class MetricOut(BaseModel):
    name: str = Field(description="The kiosk's metric name (cpu_temp_c, decode_ms_p50, ...)")
    label: str = Field(description="The name in words, in the request's language")
    value: float
    unit: str = Field(description='"°C", "ms", "MB", "%", "s" or "" (a count)')
    level: str = Field(description="ok, warn or critical")
    limit: float | None = Field(description="The threshold the value reached, when not ok")
    text: str = Field(description="The value with its unit, for people")


class IssueOut(BaseModel):
    code: str = Field(description="A metric name, telemetry_stale or no_telemetry")
    level: str = Field(description="warn, critical, or unknown for no_telemetry")
    value: float | None
    limit: float | None
    unit: str
    text: str


class GateHealthOut(BaseModel):
    gate_id: int
    site: str
    key: str
    name: str
    state: str = Field(description="online, offline, lost or unknown (from the status topic)")
    level: str = Field(description="The worst issue: ok, warn, critical; unknown: no telemetry")
    level_text: str
    telemetry_at: datetime | None = Field(description="When the server got the latest telemetry")
    age_s: float | None = Field(description="Seconds since then, at checked_at")
    age_text: str | None
    stale: bool
    metrics: list[MetricOut]
    issues: list[IssueOut]


class HealthOut(BaseModel):
    checked_at: datetime
    counts: dict[str, int] = Field(description="Gates per level: ok, warn, critical, unknown")
    gates: list[GateHealthOut]
