"""The fleet API under ``/api/v1/fleet``: gates, enrollment, commands, scans, list snapshots for
kiosks, broker ACL and bridge metrics. Thin: guard, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from protocol.messages import ListUpdate
from server.accounts.dependencies import GateOperator, MerchantManager, PlatformAdmin
from server.clock import Now
from server.db import DbSession
from server.errors import NotFound
from server.fleet import commands as command_service
from server.fleet import repository as repo
from server.fleet import service, staff_admissions
from server.fleet.deps import AppFleetSettings, Kiosk, OptionalBridge, RunningBridge
from server.fleet.lists import snapshot_page
from server.fleet.metrics import BridgeMetrics
from server.fleet.models import ListName
from server.fleet.schemas import (
    BridgeMetricsOut,
    CommandIn,
    CommandOut,
    EnrollIn,
    EnrollmentTokenOut,
    EnrollOut,
    GateIn,
    GateOut,
    ScanOut,
    StaffOutboxOut,
)

router = APIRouter(prefix="/api/v1/fleet", tags=["fleet"])


def _qr_data_url(text: str) -> str:
    png = segno.make(text, error="m").png_data_uri(scale=6, border=2)
    return str(png)


@router.post("/enroll", response_model=EnrollOut)
def enroll(body: EnrollIn, session: DbSession, fleet: AppFleetSettings, now: Now) -> EnrollOut:
    """A kiosk exchanges its one-time token for credentials, keys, policy and lists."""
    return EnrollOut.model_validate(service.enroll(session, fleet, token=body.token, now=now))


@router.get("/gates", response_model=list[GateOut])
def list_gates(who: GateOperator, session: DbSession) -> list[GateOut]:
    return [GateOut.of(gate) for gate in repo.list_gates(session, who.merchant_id)]


@router.post("/gates", response_model=GateOut, status_code=201)
def create_gate(body: GateIn, who: MerchantManager, session: DbSession, now: Now) -> GateOut:
    gate = service.create_gate(
        session,
        merchant_id=who.merchant_id,
        venue_id=body.venue_id,
        key=body.key,
        name=body.name,
        zone_ids=body.zone_ids,
        direction=body.direction,
        now=now,
    )
    return GateOut.of(gate)


@router.get("/gates/{gate_id}", response_model=GateOut)
def read_gate(gate_id: int, who: GateOperator, session: DbSession) -> GateOut:
    return GateOut.of(service.get_gate(session, who.merchant_id, gate_id))


@router.post("/gates/{gate_id}/enrollment-token", response_model=EnrollmentTokenOut)
def issue_token(
    gate_id: int, who: MerchantManager, session: DbSession, fleet: AppFleetSettings, now: Now
) -> EnrollmentTokenOut:
    issued = service.issue_enrollment_token(
        session, fleet, merchant_id=who.merchant_id, gate_id=gate_id, now=now
    )
    return EnrollmentTokenOut(
        token=issued.token,
        expires_at=issued.expires_at,
        gate_id=issued.gate.id,
        qr_png=_qr_data_url(issued.token),
    )


@router.post("/gates/{gate_id}/revoke", response_model=GateOut)
def revoke_gate(
    gate_id: int, who: MerchantManager, session: DbSession, fleet: AppFleetSettings, now: Now
) -> GateOut:
    gate = service.revoke_gate(
        session, fleet, merchant_id=who.merchant_id, gate_id=gate_id, now=now
    )
    return GateOut.of(gate)


@router.post("/gates/{gate_id}/commands", response_model=CommandOut, status_code=202)
def send_command(
    gate_id: int,
    body: CommandIn,
    who: GateOperator,
    session: DbSession,
    fleet: AppFleetSettings,
    bridge: RunningBridge,
    now: Now,
) -> CommandOut:
    record = command_service.send_command(
        session,
        bridge,
        fleet,
        merchant_id=who.merchant_id,
        gate_id=gate_id,
        name=body.name,
        args=body.args,
        issued_by=who.user_id,
        now=now,
    )
    return CommandOut.of(record)


@router.get("/gates/{gate_id}/commands", response_model=list[CommandOut])
def list_commands(gate_id: int, who: GateOperator, session: DbSession) -> list[CommandOut]:
    records = command_service.list_commands(session, who.merchant_id, gate_id)
    return [CommandOut.of(record) for record in records]


@router.get("/scans", response_model=list[ScanOut])
def latest_scans(
    who: GateOperator,
    session: DbSession,
    gate_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ScanOut]:
    if gate_id is not None:
        service.get_gate(session, who.merchant_id, gate_id)
    scans = repo.latest_scans(session, who.merchant_id, limit=limit, gate_id=gate_id)
    return [ScanOut.of(scan) for scan in scans]


@router.get("/lists/{list_name}/snapshot")
def list_snapshot(
    list_name: str,
    kiosk: Kiosk,
    session: DbSession,
    fleet: AppFleetSettings,
    now: Now,
    chunk: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, object]:
    """Chunk ``chunk`` of the kiosk's site list as a ``list_update`` snapshot dict (kiosks
    authenticate with HTTP Basic: their MQTT username and password). 404 past the last chunk
    or while the list is empty at version 0."""
    try:
        name = ListName(list_name)
    except ValueError:
        raise NotFound("fleet.list_name_invalid") from None
    page: ListUpdate | None = snapshot_page(
        session,
        site=kiosk.site,
        venue_id=kiosk.venue_id,
        name=name,
        chunk=chunk,
        chunk_size=fleet.snapshot_chunk_size,
        ts=int(now.timestamp() * 1000),
    )
    if page is None:
        raise NotFound()
    return page.to_dict()


@router.get("/metrics", response_model=BridgeMetricsOut)
def bridge_metrics(
    who: PlatformAdmin, bridge: OptionalBridge, session: DbSession, now: Now
) -> BridgeMetricsOut:
    """This process's bridge counters, and the staff-admissions outbox (every process's)."""
    health = staff_admissions.outbox_health(session, now)
    outbox = StaffOutboxOut(depth=health.depth, oldest_age_s=health.oldest_age_s)
    if bridge is None:
        counts = BridgeMetrics().snapshot()
        return BridgeMetricsOut(running=False, connected=False, counts=counts, staff_outbox=outbox)
    return BridgeMetricsOut(
        running=True,
        connected=bridge.connected,
        counts=bridge.metrics.snapshot(),
        staff_outbox=outbox,
    )


@router.get("/broker/acl", response_class=PlainTextResponse)
def broker_acl(who: PlatformAdmin, session: DbSession, fleet: AppFleetSettings) -> str:
    """Mosquitto's ``acl_file`` for the current registry."""
    return service.broker_acl(session, fleet)
