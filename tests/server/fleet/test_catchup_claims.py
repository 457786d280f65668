"""With several server instances every bridge hears every gate's status; a gate that is behind
is answered by one of them (the first to claim it), and by another once that one's claim has
expired (it stopped). On SQLite and PostgreSQL, with the real catch-up and no broker: what each
instance would publish is collected."""

from __future__ import annotations

from datetime import timedelta

from protocol import messages
from protocol.topics import STATUS, TopicRef
from server.clock import ManualClock
from server.db import Database
from server.fleet import metrics
from server.fleet.catchup import GateCatchup
from server.fleet.ingest import Inbound
from server.fleet.metrics import BridgeMetrics
from tests.server.fleet.helpers import FleetWorld
from tests.server.fleet.kiosk_double import status_message


class Instance:
    """One server instance's catch-up, publishing into a list."""

    def __init__(self, world: FleetWorld, client_id: str) -> None:
        settings = world.fleet_settings.model_copy(update={"mqtt_client_id": client_id})
        self.sent: list[tuple[str, bytes]] = []
        self.metrics = BridgeMetrics()
        self.catchup = GateCatchup(
            settings, lambda topic, payload: self.sent.append((topic, payload)), self.metrics
        )


def _behind(site: str, gate: str) -> Inbound:
    """An online status whose keyring digest is not the merchant's: a ``set_keys`` is due."""
    status = status_message(gate, keyring=messages.keyring_digest({"1": None}))
    return Inbound(TopicRef(site, gate, STATUS), status)


def test_a_gate_behind_is_answered_by_one_instance_until_its_claim_expires(
    world: FleetWorld, database: Database, clock: ManualClock
) -> None:
    answer = world.enroll("north-1")
    first, second = Instance(world, "server-a"), Instance(world, "server-b")
    for instance in (first, second):
        instance.catchup.observe([_behind(answer["site"], "north-1")])

    assert first.catchup.send_due(database, clock()) >= 1
    assert first.sent, "the first to claim the gate answers it"
    assert second.catchup.send_due(database, clock()) == 0
    assert second.sent == []
    assert second.metrics.count(metrics.CATCHUPS_ANSWERED_ELSEWHERE) == 1
    assert second.catchup.reported_keyrings(), "still remembered, in case the owner stops"

    # The first instance stops; once its claim is older than the interval the other answers.
    clock.advance(world.fleet_settings.catchup_interval + timedelta(seconds=1))
    assert second.catchup.send_due(database, clock()) >= 1
    assert second.sent
    assert first.catchup.send_due(database, clock()) == 0, "now the other one's gate"
    assert first.metrics.count(metrics.CATCHUPS_ANSWERED_ELSEWHERE) == 1


def test_a_claim_is_per_gate(world: FleetWorld, database: Database, clock: ManualClock) -> None:
    north, south = world.enroll("north-1"), world.enroll("south-1")
    first, second = Instance(world, "server-a"), Instance(world, "server-b")
    first.catchup.observe([_behind(north["site"], "north-1")])
    second.catchup.observe([_behind(south["site"], "south-1")])
    assert first.catchup.send_due(database, clock()) >= 1
    assert second.catchup.send_due(database, clock()) >= 1
    assert {topic.split("/")[-2] for topic, _ in first.sent} == {"north-1"}
    assert {topic.split("/")[-2] for topic, _ in second.sent} == {"south-1"}
