"""Commands to gates and their results, with audits compared against the server's lists.

A command is stored first and published on the gate's commands topic after the commit, with a
correlation id and an expiry (an "open once" from a minute ago must not fire). The kiosk answers
exactly once on its results topic; :func:`apply_result` stores the answer. A ``resync`` also sends
the site's lists as snapshots on the gate's own lists topic; an ``audit`` result is compared with
the site list's version, digest and count and the comparison stored beside the kiosk's figures.
A ``set_keys`` always carries the merchant's current keyring, whatever arguments were given.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from protocol.messages import Command, CommandResult, MessageError, encode
from protocol.topics import Topics
from server.errors import Conflict, Invalid
from server.fleet import repository as repo
from server.fleet.hooks import after_commit
from server.fleet.keyrings import SET_KEYS, gate_keyring
from server.fleet.lists import snapshot_messages
from server.fleet.models import EnrollmentState, Gate, GateCommand, ListName
from server.fleet.publishing import Publisher
from server.fleet.service import get_gate
from server.fleet.settings import FleetSettings


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def send_command(
    session: Session,
    publisher: Publisher,
    fleet_settings: FleetSettings,
    *,
    merchant_id: int,
    gate_id: int,
    name: str,
    args: dict[str, Any],
    issued_by: int | None,
    now: datetime,
) -> GateCommand:
    gate = get_gate(session, merchant_id, gate_id)
    if gate.enrollment is not EnrollmentState.ENROLLED:
        raise Conflict("fleet.gate_not_enrolled")
    expires_at = now + fleet_settings.command_ttl
    if name == SET_KEYS:
        # Keys come from the merchant's key store only: an operator's set_keys re-sends it.
        args = {"keys": gate_keyring(session, merchant_id)}
    try:
        message = Command(
            command_id="cmd-" + secrets.token_hex(12),
            name=name,
            args=args,
            expires_at=_ms(expires_at),
            ts=_ms(now),
        )
    except MessageError as error:
        raise Invalid("fleet.command_args_invalid", detail=error.detail) from None
    record = GateCommand(
        merchant_id=merchant_id,
        gate_id=gate.id,
        command_id=message.command_id,
        name=message.name,
        args=message.args,
        issued_by=issued_by,
        created_at=now,
        expires_at=expires_at,
    )
    repo.add(session, record)
    topics = Topics(gate.venue.slug, fleet_settings.mqtt_root)
    outgoing = [(topics.commands(gate.key), encode(message))]
    if message.name == "resync":
        for name_ in ListName:
            for chunk in snapshot_messages(
                session,
                site=gate.venue.slug,
                venue_id=gate.venue_id,
                name=name_,
                chunk_size=fleet_settings.snapshot_chunk_size,
                ts=_ms(now),
            ):
                outgoing.append((topics.lists(gate.key), encode(chunk)))

    def publish() -> None:
        for topic, payload in outgoing:
            publisher.publish(topic, payload)

    after_commit(session, publish)
    return record


def apply_result(
    session: Session, gate: Gate, result: CommandResult, now: datetime
) -> GateCommand | None:
    """Store a gate's answer; None when no command of this gate has that correlation id."""
    record = repo.command_by_command_id(session, result.command_id)
    if record is None or record.gate_id != gate.id:
        return None
    detail: dict[str, Any] = dict(result.detail)
    if record.name == "audit":
        detail["server"] = audit_comparison(session, gate, result.detail)
    record.answered_at = now
    record.ok = result.ok
    record.error = result.error
    record.detail = detail
    return record


def audit_comparison(session: Session, gate: Gate, reported: dict[str, object]) -> dict[str, Any]:
    """The server's version, digest and count of the audited list, and whether they match."""
    try:
        name = ListName(str(reported.get("list", ListName.ALLOWLIST.value)))
    except ValueError:
        return {"matches": False, "problem": "unknown list"}
    head = repo.get_site_list(session, gate.venue_id, name)
    version = head.version if head else 0
    digest = head.digest if head else "0" * 64
    count = head.count if head else 0
    return {
        "list": name.value,
        "version": version,
        "digest": digest,
        "count": count,
        "matches": reported.get("version") == version
        and reported.get("digest") == digest
        and reported.get("count") == count,
    }


def list_commands(
    session: Session, merchant_id: int, gate_id: int, limit: int = 50
) -> list[GateCommand]:
    get_gate(session, merchant_id, gate_id)
    return list(repo.list_commands(session, merchant_id, gate_id, limit))
