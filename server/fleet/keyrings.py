"""A merchant's signing keys reach its gates: on :data:`server.signals.keys_changed` (a key
rotated in or retired), every enrolled gate of the merchant gets one ``set_keys`` command with
the whole keyring, stored as a :class:`GateCommand` (its result comes back like any command's)
and published after the commit.

The command carries no expiry: a keyring that arrives late is still the newest one, and the
kiosk refuses one older (``ts``) than the keyring it already applied. A gate that missed one
reports a different keyring digest in its status, and :mod:`server.fleet.catchup` sends it
:func:`keyring_command` again. Retired keys are sent as
null, so the gate remembers and refuses them rather than treating them as unknown.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from protocol.messages import Command, encode
from protocol.topics import Topics
from server.fleet import repository as repo
from server.fleet.hooks import after_commit
from server.fleet.models import EnrollmentState, Gate, GateCommand
from server.fleet.publishing import Publisher
from server.fleet.settings import FleetSettings
from server.tickets import repository as tickets_repo
from server.tickets.models import SigningKeyState

SET_KEYS = "set_keys"


def gate_keyring(session: Session, merchant_id: int) -> dict[str, str | None]:
    """Key id -> public key text for every key gates must trust, None for retired ones."""
    return {
        str(key.key_id): None if key.state is SigningKeyState.RETIRED else key.public_key
        for key in tickets_repo.signing_keys(session, merchant_id)
    }


def send_keyring(
    session: Session,
    publisher: Publisher,
    fleet_settings: FleetSettings,
    *,
    merchant_id: int,
    now: datetime,
) -> list[GateCommand]:
    """Store a ``set_keys`` command for each enrolled gate of the merchant and publish them
    once ``session`` commits."""
    keys = gate_keyring(session, merchant_id)
    records: list[GateCommand] = []
    outgoing: list[tuple[str, bytes]] = []
    for gate in repo.list_gates(session, merchant_id):
        if gate.enrollment is not EnrollmentState.ENROLLED:
            continue
        record, topic, payload = keyring_command(session, gate, keys, now, fleet_settings)
        records.append(record)
        outgoing.append((topic, payload))

    def publish() -> None:
        for topic, payload in outgoing:
            publisher.publish(topic, payload)

    if outgoing:
        after_commit(session, publish)
    return records


def keyring_command(
    session: Session,
    gate: Gate,
    keys: dict[str, str | None],
    now: datetime,
    fleet_settings: FleetSettings,
) -> tuple[GateCommand, str, bytes]:
    """Store one ``set_keys`` command for ``gate``; the caller publishes ``(topic, payload)``
    after the commit."""
    message = Command(
        command_id="cmd-" + secrets.token_hex(12),
        name=SET_KEYS,
        args={"keys": keys},
        ts=int(now.timestamp() * 1000),
    )
    record = GateCommand(
        merchant_id=gate.merchant_id,
        gate_id=gate.id,
        command_id=message.command_id,
        name=message.name,
        args=message.args,
        issued_by=None,
        created_at=now,
        expires_at=None,
    )
    repo.add(session, record)
    topic = Topics(gate.venue.slug, fleet_settings.mqtt_root).commands(gate.key)
    return record, topic, encode(message)


def keyring_sender(
    publisher: Publisher, fleet_settings: FleetSettings, clock: Callable[[], datetime]
) -> Callable[[Session, Sequence[int]], None]:
    """A :data:`server.signals.keys_changed` receiver publishing through ``publisher``."""

    def on_keys_changed(session: Session, merchant_ids: Sequence[int]) -> None:
        now = clock()
        for merchant_id in dict.fromkeys(merchant_ids):
            send_keyring(session, publisher, fleet_settings, merchant_id=merchant_id, now=now)

    return on_keys_changed
