"""A merchant's key change becomes one ``set_keys`` command per enrolled gate, published only
after the change commits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from protocol import messages
from protocol.messages import Command
from protocol.topics import Topics
from server import signals
from server.clock import ManualClock
from server.db import Database
from server.fleet.keyrings import gate_keyring, keyring_sender
from server.fleet.models import GateCommand
from server.tickets import keys
from tests.server.fleet.helpers import FleetWorld


class Recorder:
    """A :class:`~server.fleet.publishing.Publisher` that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.sent.append((topic, payload))


@pytest.fixture
def recorder(world: FleetWorld, clock: ManualClock) -> Iterator[Recorder]:
    made = Recorder()
    receiver = keyring_sender(made, world.fleet_settings, clock)
    signals.keys_changed.connect(receiver)
    yield made
    signals.keys_changed.disconnect(receiver)


def _site(world: FleetWorld, gate_id: int) -> str:
    gate = world.client.get(f"/api/v1/fleet/gates/{gate_id}", headers=world.headers).json()
    return str(gate["site"])


def test_a_rotation_sends_the_keyring_to_each_enrolled_gate_after_the_commit(
    world: FleetWorld, database: Database, clock: ManualClock, recorder: Recorder
) -> None:
    enrolled = world.enroll("north-1")
    world.gate("south-2")  # registered, never enrolled: gets nothing
    merchant_id = world.shop.merchant.merchant_id

    with database.sessions.begin() as session:
        keys.ensure_active_key(session, merchant_id, clock())
        keys.rotate_key(session, merchant_id, clock())
        assert recorder.sent == [], "nothing leaves before the commit"

    with database.sessions() as session:
        expected = gate_keyring(session, merchant_id)
        (record,) = session.scalars(select(GateCommand).where(GateCommand.name == "set_keys"))
    assert sorted(expected) == ["1", "2"] and None not in expected.values()
    ((topic, payload),) = recorder.sent
    topics = Topics(_site(world, enrolled["gate_id"]), world.fleet_settings.mqtt_root)
    assert topic == topics.commands("north-1")
    command = messages.decode(payload)
    assert isinstance(command, Command)
    assert (command.name, command.expires_at) == ("set_keys", None)
    assert command.args == {"keys": expected}
    assert (record.gate_id, record.command_id) == (enrolled["gate_id"], command.command_id)


def test_a_retired_key_is_sent_as_null(
    world: FleetWorld, database: Database, clock: ManualClock, recorder: Recorder
) -> None:
    world.enroll("north-1")
    merchant_id = world.shop.merchant.merchant_id
    with database.sessions.begin() as session:
        first = keys.ensure_active_key(session, merchant_id, clock())
        keys.rotate_key(session, merchant_id, clock())
    with database.sessions.begin() as session:
        keys.retire_key_record(session, keys.get_key(session, merchant_id, first.key_id), clock())

    command = messages.decode(recorder.sent[-1][1])
    assert isinstance(command, Command)
    sent = command.args["keys"]
    assert isinstance(sent, dict)
    assert sent[str(first.key_id)] is None
    assert sent[str(first.key_id + 1)] is not None


def test_a_rolled_back_rotation_publishes_nothing(
    world: FleetWorld, database: Database, clock: ManualClock, recorder: Recorder
) -> None:
    world.enroll("north-1")
    merchant_id = world.shop.merchant.merchant_id
    with database.sessions() as session:
        keys.ensure_active_key(session, merchant_id, clock())
        keys.rotate_key(session, merchant_id, clock())
        session.rollback()
    assert recorder.sent == []
