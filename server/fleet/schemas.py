"""Request and response bodies of the fleet API (the enrollment answer is the kiosk contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from protocol.messages import COMMAND_NAMES
from server.fleet.models import EnrollmentState, Gate, GateCommand, GateDirection, GateScan


class GateIn(BaseModel):
    venue_id: int
    key: str = Field(description="Gate id in MQTT topics: 1-64 of a-z, 0-9, - and _")
    name: str = Field(min_length=1, max_length=200)
    zone_ids: list[int] = Field(default_factory=list, description="Zones this gate guards")
    direction: GateDirection = GateDirection.IN


class GateOut(BaseModel):
    id: int
    venue_id: int
    site: str
    key: str
    name: str
    direction: GateDirection
    zone_ids: list[int]
    enrollment: EnrollmentState
    mqtt_username: str | None
    state: str = Field(description="online, offline, lost (last will) or unknown")
    mode: str | None
    allowlist_version: int
    revocations_version: int
    outbox_depth: int
    software: str | None
    status_since: datetime | None
    last_seen_at: datetime | None
    last_scan_at: datetime | None
    telemetry: dict[str, int | float] | None = Field(
        description="The kiosk's latest telemetry metrics (scans, decode_ms_p50, uptime_s, ...)"
    )
    telemetry_at: datetime | None

    @classmethod
    def of(cls, gate: Gate) -> GateOut:
        return cls(
            id=gate.id,
            venue_id=gate.venue_id,
            site=gate.venue.slug,
            key=gate.key,
            name=gate.name,
            direction=gate.direction,
            zone_ids=gate.zone_ids,
            enrollment=gate.enrollment,
            mqtt_username=gate.mqtt_username,
            state=gate.state,
            mode=gate.mode,
            allowlist_version=gate.allowlist_version,
            revocations_version=gate.revocations_version,
            outbox_depth=gate.outbox_depth,
            software=gate.software,
            status_since=gate.status_since,
            last_seen_at=gate.last_seen_at,
            last_scan_at=gate.last_scan_at,
            telemetry=gate.telemetry,
            telemetry_at=gate.telemetry_at,
        )


class EnrollmentTokenOut(BaseModel):
    token: str = Field(description="Shown once; the kiosk runs `admit kiosk enroll URL TOKEN`")
    expires_at: datetime
    gate_id: int
    qr_png: str = Field(description="The token as a QR code: a data: URL of a PNG image")


class EnrollIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class MqttCredentials(BaseModel):
    url: str
    username: str
    password: str
    client_id: str


class GatePolicyOut(BaseModel):
    event_ids: list[int]
    zones: list[int] = Field(description="Accepted ticket type ids (the credential's zone claim)")
    direction: GateDirection


class EnrollOut(BaseModel):
    site: str
    gate: str
    mqtt: MqttCredentials
    keys: dict[str, str] = Field(description="Trusted key id -> public key text")
    code_salt: str
    policy: GatePolicyOut
    lists: list[dict[str, Any]] = Field(description="list_update snapshot chunks (protocol)")
    admissions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Check-ins by staff for the site's current events, as `admission` messages"
        " of the pseudo-gate `_staff` (protocol): the gate records them as a peer's gossip",
    )


class CommandIn(BaseModel):
    name: str = Field(description=", ".join(COMMAND_NAMES))
    args: dict[str, Any] = Field(default_factory=dict)


class CommandOut(BaseModel):
    id: int
    gate_id: int
    command_id: str
    name: str
    args: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None
    answered_at: datetime | None
    ok: bool | None
    error: str | None
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, record: GateCommand) -> CommandOut:
        return cls(
            id=record.id,
            gate_id=record.gate_id,
            command_id=record.command_id,
            name=record.name,
            args=record.args,
            created_at=record.created_at,
            expires_at=record.expires_at,
            answered_at=record.answered_at,
            ok=record.ok,
            error=record.error,
            detail=record.detail,
        )


class ScanOut(BaseModel):
    id: int
    gate_id: int
    scan_id: str
    seq: int
    scanned_at: datetime
    received_at: datetime
    offline: bool
    direction: str
    decision: str
    reason: str
    ticket_id: int | None
    event_id: int | None
    entry_no: int | None
    annuls: str | None

    @classmethod
    def of(cls, scan: GateScan) -> ScanOut:
        return cls(
            id=scan.id,
            gate_id=scan.gate_id,
            scan_id=scan.scan_id,
            seq=scan.seq,
            scanned_at=scan.scanned_at,
            received_at=scan.received_at,
            offline=scan.offline,
            direction=scan.direction,
            decision=scan.decision,
            reason=scan.reason,
            ticket_id=scan.ticket_id,
            event_id=scan.event_id,
            entry_no=scan.entry_no,
            annuls=scan.annuls,
        )


class StaffOutboxOut(BaseModel):
    """Staff check-ins waiting to be gossiped to the gates (read from the database, so it shows
    even when no bridge runs anywhere: a depth and an age that keep growing mean exactly that)."""

    depth: int = Field(description="Staff check-ins waiting in the outbox")
    oldest_age_s: float | None = Field(
        description="Seconds since the oldest waiting check-in was stored (null: none waits)"
    )


class BridgeMetricsOut(BaseModel):
    running: bool
    connected: bool
    counts: dict[str, int]
    staff_outbox: StaffOutboxOut
