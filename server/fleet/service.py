"""Gate registry and enrollment: register gates, issue one-time tokens, exchange a token for the
kiosk's credentials and configuration, revoke a gate, keep the broker's files in step.

A token is 32 random bytes, stored as its SHA-256, valid until ``expires_at`` and spent by its
first use. Redeeming it gives the kiosk a broker user ``kiosk-<site>-<gate>`` with a fresh random
password (a new one on every enrollment, so re-enrolling a replaced kiosk locks out the old one),
the site's trusted keys and code salt (seam 4), the gate's policy, the lists as snapshots and
the staff check-ins of the site's current events (:mod:`server.fleet.staff_admissions`).

Gate ids starting with ``_`` are reserved: the server gossips staff check-ins as the
pseudo-gate ``_staff``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.topics import RESERVED_ID_PREFIX, is_valid_id
from server.errors import Conflict, Invalid, NotFound, Unauthorized
from server.fleet import messages as _messages  # noqa: F401  (registers the texts)
from server.fleet import repository as repo
from server.fleet.broker_files import (
    KioskAccount,
    kiosk_username,
    render_acl,
    render_password_file,
    write_broker_files,
)
from server.fleet.hooks import after_commit
from server.fleet.lists import snapshot_messages
from server.fleet.models import EnrollmentState, EnrollmentToken, Gate, GateDirection, ListName
from server.fleet.passwords import (
    PasswordHashError,
    hash_password,
    new_password,
    verify_password,
)
from server.fleet.settings import FleetSettings
from server.fleet.staff_admissions import enrollment_admissions
from server.tickets.keys import code_salt_for_merchant, keyring_for_merchant

TOKEN_BYTES = 32


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- registry -----------------------------------------------------------------------------------


def create_gate(
    session: Session,
    *,
    merchant_id: int,
    venue_id: int,
    key: str,
    name: str,
    zone_ids: list[int],
    direction: GateDirection,
    now: datetime,
) -> Gate:
    """Register a gate at one of the merchant's venues, guarding some of its zones."""
    venue = repo.get_venue(session, merchant_id, venue_id)
    if venue is None:
        raise NotFound("fleet.venue_not_found")
    if not is_valid_id(key):
        raise Invalid("fleet.gate_key_invalid")
    if key.startswith(RESERVED_ID_PREFIX):
        raise Invalid("fleet.gate_key_reserved")
    zones = list(repo.get_zones(session, merchant_id, sorted(set(zone_ids))))
    if len(zones) != len(set(zone_ids)) or any(zone.venue_id != venue_id for zone in zones):
        raise Invalid("fleet.zone_invalid")
    if repo.gate_key_taken(session, venue_id, key):
        raise Conflict("fleet.gate_key_taken")
    gate = Gate(
        merchant_id=merchant_id,
        venue_id=venue_id,
        key=key,
        name=name,
        direction=direction,
        enrollment=EnrollmentState.PENDING,
        created_at=now,
        state="unknown",
        allowlist_version=0,
        revocations_version=0,
        outbox_depth=0,
        ack_watermark=0,
    )
    gate.zones = zones
    try:
        repo.add(session, gate)
    except IntegrityError:
        raise Conflict("fleet.gate_key_taken") from None
    return gate


def get_gate(session: Session, merchant_id: int, gate_id: int) -> Gate:
    gate = repo.get_gate(session, merchant_id, gate_id)
    if gate is None:
        raise NotFound("fleet.gate_not_found")
    return gate


@dataclass(frozen=True)
class IssuedEnrollmentToken:
    token: str
    expires_at: datetime
    gate: Gate


def issue_enrollment_token(
    session: Session,
    fleet_settings: FleetSettings,
    *,
    merchant_id: int,
    gate_id: int,
    now: datetime,
) -> IssuedEnrollmentToken:
    """A fresh one-time token for the gate; earlier unused tokens stop working."""
    gate = get_gate(session, merchant_id, gate_id)
    if gate.enrollment is EnrollmentState.REVOKED:
        raise Conflict("fleet.gate_revoked")
    repo.drop_open_tokens(session, gate.id, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + fleet_settings.enrollment_token_ttl
    repo.add(
        session,
        EnrollmentToken(
            merchant_id=merchant_id,
            gate_id=gate.id,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=expires_at,
        ),
    )
    return IssuedEnrollmentToken(token, expires_at, gate)


def create_gate_with_token(
    session: Session,
    fleet_settings: FleetSettings,
    *,
    merchant_id: int,
    venue_id: int,
    key: str,
    name: str,
    zone_ids: list[int],
    direction: GateDirection,
    now: datetime,
) -> IssuedEnrollmentToken:
    """Register a gate and issue its enrollment token in one go (``admit demo``, scripts)."""
    gate = create_gate(
        session,
        merchant_id=merchant_id,
        venue_id=venue_id,
        key=key,
        name=name,
        zone_ids=zone_ids,
        direction=direction,
        now=now,
    )
    return issue_enrollment_token(
        session, fleet_settings, merchant_id=merchant_id, gate_id=gate.id, now=now
    )


def revoke_gate(
    session: Session,
    fleet_settings: FleetSettings,
    *,
    merchant_id: int,
    gate_id: int,
    now: datetime,
) -> Gate:
    """Drop the gate's broker credentials (password file and ACL are rewritten after commit)."""
    gate = get_gate(session, merchant_id, gate_id)
    gate.enrollment = EnrollmentState.REVOKED
    gate.revoked_at = now
    gate.mqtt_password_hash = None
    repo.drop_open_tokens(session, gate.id, now)
    session.flush()
    schedule_broker_files(session, fleet_settings)
    return gate


# --- enrollment ---------------------------------------------------------------------------------


def gate_policy(session: Session, gate: Gate) -> dict[str, Any]:
    """What the kiosk enforces: the events it serves, the ticket types it accepts (the
    credential's "zone" claim is the ticket type id) and its direction."""
    accepted = repo.ticket_types_for_gate(session, gate.merchant_id, gate.venue_id, gate.zone_ids)
    return {
        "event_ids": sorted({event_id for _, event_id in accepted}),
        "zones": [ticket_type_id for ticket_type_id, _ in accepted],
        "direction": gate.direction.value,
    }


def site_snapshots(
    session: Session, fleet_settings: FleetSettings, gate: Gate, now: datetime
) -> list[dict[str, object]]:
    """Both lists of the gate's site as ``list_update`` snapshot dicts."""
    messages = []
    for name in ListName:
        messages.extend(
            snapshot_messages(
                session,
                site=gate.venue.slug,
                venue_id=gate.venue_id,
                name=name,
                chunk_size=fleet_settings.snapshot_chunk_size,
                ts=_ms(now),
            )
        )
    return [message.to_dict() for message in messages]


def enroll(
    session: Session, fleet_settings: FleetSettings, *, token: str, now: datetime
) -> dict[str, Any]:
    """Exchange a one-time token for everything a kiosk needs (see docs/fleet.md)."""
    record = repo.token_by_hash(session, _token_hash(token))
    if record is None or record.used_at is not None:
        raise Unauthorized("fleet.token_invalid")
    if record.expires_at <= now:
        raise Unauthorized("fleet.token_expired")
    gate = repo.get_gate(session, record.merchant_id, record.gate_id)
    if gate is None or gate.enrollment is EnrollmentState.REVOKED:
        raise Unauthorized("fleet.token_invalid")
    if not repo.spend_token(session, record.id, now):
        raise Unauthorized("fleet.token_invalid")
    password = new_password()
    username = kiosk_username(gate.venue.slug, gate.key)
    gate.mqtt_username = username
    gate.mqtt_password_hash = hash_password(password)
    gate.enrollment = EnrollmentState.ENROLLED
    gate.enrolled_at = now
    session.flush()
    keys = keyring_for_merchant(session, gate.merchant_id, now)
    answer = {
        "site": gate.venue.slug,
        "gate": gate.key,
        "mqtt": {
            "url": fleet_settings.kiosk_broker_url,
            "username": username,
            "password": password,
            "client_id": username,
        },
        "keys": {str(key_id): text for key_id, text in sorted(keys.items())},
        "code_salt": code_salt_for_merchant(session, gate.merchant_id, now),
        "policy": gate_policy(session, gate),
        "lists": site_snapshots(session, fleet_settings, gate, now),
        "admissions": enrollment_admissions(session, gate.venue_id, now),
    }
    schedule_broker_files(session, fleet_settings)
    return answer


def authenticate_kiosk(session: Session, username: str, password: str) -> Gate:
    """The enrolled gate whose broker credentials these are (HTTP Basic on kiosk endpoints)."""
    gate = repo.gate_by_username(session, username)
    if (
        gate is None
        or gate.enrollment is not EnrollmentState.ENROLLED
        or gate.mqtt_password_hash is None
    ):
        raise Unauthorized("fleet.kiosk_credentials_invalid")
    try:
        matches = verify_password(password, gate.mqtt_password_hash)
    except PasswordHashError:
        matches = False
    if not matches:
        raise Unauthorized("fleet.kiosk_credentials_invalid")
    return gate


# --- broker files -------------------------------------------------------------------------------


def broker_acl(session: Session, fleet_settings: FleetSettings) -> str:
    kiosks = [
        KioskAccount(username, password_hash, site, gate)
        for username, password_hash, site, gate in repo.enrolled_gates(session)
    ]
    return render_acl(
        kiosks, server_username=fleet_settings.mqtt_server_username, root=fleet_settings.mqtt_root
    )


def broker_password_file(session: Session, fleet_settings: FleetSettings) -> str:
    entries = [(username, hashed) for username, hashed, _, _ in repo.enrolled_gates(session)]
    server_password = fleet_settings.server_password()
    if server_password is not None:
        entries.append(
            (fleet_settings.mqtt_server_username, hash_password(server_password.get_secret_value()))
        )
    return render_password_file(entries)


def sync_broker_files(session: Session, fleet_settings: FleetSettings) -> None:
    """Rewrite the configured Mosquitto files from the registry and reload the broker."""
    if fleet_settings.mosquitto_password_file is None and fleet_settings.mosquitto_acl_file is None:
        return
    write_broker_files(
        password_file=fleet_settings.mosquitto_password_file,
        password_text=broker_password_file(session, fleet_settings),
        acl_file=fleet_settings.mosquitto_acl_file,
        acl_text=broker_acl(session, fleet_settings),
        reload_command=fleet_settings.mosquitto_reload_command,
    )


def schedule_broker_files(session: Session, fleet_settings: FleetSettings) -> None:
    """Rewrite the broker files once this transaction has committed."""
    if fleet_settings.mosquitto_password_file is None and fleet_settings.mosquitto_acl_file is None:
        return
    bind = session.get_bind()

    def rewrite() -> None:
        with Session(bind) as fresh, fresh.begin():
            sync_broker_files(fresh, fleet_settings)

    after_commit(session, rewrite)
