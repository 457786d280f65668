"""Staff check-ins reach the gates: queued in the check-in's transaction, gossiped by the bridge
as the pseudo-gate ``_staff``, and handed to gates that enroll later.

These tests run without a bridge (the queue is the contract); ``test_bridge.py`` has the same
path through a real broker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from protocol import messages, reasons
from protocol.topics import STAFF_GATE, Topics
from server.accounts.models import MerchantRole
from server.clock import ManualClock
from server.db import Database
from server.fleet import staff_admissions
from server.fleet.models import PendingStaffAdmission
from server.tickets.models import Ticket
from tests.server.catalog.builders import create_ticket_type, on_sale
from tests.server.fleet.helpers import FleetWorld
from tests.server.helpers import AccountFactory

TICKETS = "/api/merchant/checkin/tickets"


class Published:
    """Stands in for the bridge's client: records what would go to the broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, messages.Message]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, messages.decode(payload)))


def _buy(world: FleetWorld, accounts: AccountFactory, database: Database, entries: int) -> int:
    """A paid ticket of the world's event with ``entries`` entries; its id."""
    free = create_ticket_type(
        world.client,
        world.shop.merchant,
        world.shop.event_id,
        price_fen=0,
        entries_allowed=entries,
        zone_ids=[world.shop.zone_id],
    )
    bought = world.client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": free["id"]}]},
        headers=accounts.visitor().headers,
    )
    assert bought.status_code in {200, 201}, bought.text
    with database.sessions() as session:
        found = select(Ticket.id).where(Ticket.ticket_type_id == free["id"])
        ticket_id: int = session.scalars(found).one()
    return ticket_id


def _check(
    world: FleetWorld, headers: dict[str, str], ticket_id: int, **fields: Any
) -> dict[str, Any]:
    response = world.client.post(
        TICKETS, json={"ticket_ids": [ticket_id], **fields}, headers=headers
    )
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return dict(result)


def _queued(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(PendingStaffAdmission)) or 0


def _publish(database: Database, clock: ManualClock, root: str = "admit") -> Published:
    published = Published()
    with database.sessions.begin() as session:
        staff_admissions.publish_pending(
            session, published, root=root, ts=int(clock().timestamp() * 1000), limit=100
        )
    return published


@pytest.fixture
def checker(world: FleetWorld, accounts: AccountFactory) -> dict[str, str]:
    return accounts.staff(world.shop.merchant, MerchantRole.CHECKER).headers


def test_a_staff_entry_is_queued_and_gossiped_once_as_the_staff_gate(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    site = world.enroll("north-1")["site"]
    ticket_id = _buy(world, accounts, database, entries=2)
    assert _check(world, checker, ticket_id)["admitted"] is True
    assert _queued(database) == 1

    published = _publish(database, clock)
    ((topic, admission),) = published.sent
    assert topic == Topics(site, "admit").admissions(STAFF_GATE)
    assert isinstance(admission, messages.Admission)
    assert (admission.gate, admission.ticket_key, admission.direction) == (
        STAFF_GATE,
        f"t:{ticket_id}",
        "in",
    )
    assert admission.entries_used == 1
    assert admission.at == int(clock().timestamp() * 1000)
    assert _queued(database) == 0
    assert _publish(database, clock).sent == [], "a published check-in leaves the queue"


def test_every_message_of_a_ticket_carries_its_current_staff_entry_count(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    """Entries, an exit and a late entry: each message says how many entries staff have
    admitted by now, so a gate that keeps the highest count a peer reported is never low."""
    world.enroll("north-1")
    ticket_id = _buy(world, accounts, database, entries=3)
    assert _check(world, checker, ticket_id)["admitted"] is True
    clock.advance(timedelta(minutes=5))
    assert _check(world, checker, ticket_id, direction="out")["admitted"] is True
    clock.advance(timedelta(minutes=5))
    assert _check(world, checker, ticket_id)["admitted"] is True
    sent = [admission for _, admission in _publish(database, clock).sent]
    assert [(a.direction, a.entries_used) for a in sent] == [("in", 2), ("out", 2), ("in", 2)]
    assert [a.at for a in sent] == sorted(a.at for a in sent)


def test_refused_and_repeated_check_ins_queue_nothing_more(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    world.enroll("north-1")
    ticket_id = _buy(world, accounts, database, entries=1)
    assert _check(world, checker, ticket_id)["admitted"] is True
    refused = _check(world, checker, ticket_id)
    assert (refused["admitted"], refused["reason"]) == (False, reasons.ALREADY_USED)
    assert _queued(database) == 1, "a refusal lets nobody in: nothing to tell the gates"

    other = _buy(world, accounts, database, entries=1)
    with database.sessions() as session:
        retry = {"credential": session.get_one(Ticket, other).credential, "scan_id": "app-1"}
    for _ in range(2):  # an app retrying the same scan gets the first answer, queued once
        response = world.client.post("/api/merchant/checkin/scan", json=retry, headers=checker)
        assert response.json()["admitted"] is True
    assert _queued(database) == 2


def test_a_venue_without_enrolled_gates_queues_nothing(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    checker: dict[str, str],
) -> None:
    """Handhelds only, or gates registered but not enrolled yet: nobody to tell, and no bridge
    might ever drain the queue; a gate enrolling later reads the check-in log instead."""
    world.gate("north-1")  # registered, not enrolled
    ticket_id = _buy(world, accounts, database, entries=1)
    assert _check(world, checker, ticket_id)["admitted"] is True
    assert _queued(database) == 0


def test_a_gate_enrolling_later_gets_the_staff_check_ins_of_its_site(
    world: FleetWorld,
    client: TestClient,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    ticket_id = _buy(world, accounts, database, entries=1)
    assert _check(world, checker, ticket_id)["admitted"] is True
    # another venue of the same merchant: its check-ins are not this gate's business
    elsewhere = on_sale(client, world.shop.merchant, clock())
    free = create_ticket_type(
        client, world.shop.merchant, elsewhere.event_id, price_fen=0, entries_allowed=1
    )
    bought = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": free["id"]}]},
        headers=accounts.visitor().headers,
    )
    assert bought.status_code in {200, 201}, bought.text
    with database.sessions() as session:
        far_ticket = session.scalars(select(Ticket.id).where(Ticket.ticket_type_id == free["id"]))
        far = far_ticket.one()
    assert _check(world, checker, far)["admitted"] is True

    answer = world.enroll("north-1")
    (admission,) = answer["admissions"]
    assert admission["gate"] == STAFF_GATE
    assert (admission["ticket_key"], admission["direction"], admission["entries_used"]) == (
        f"t:{ticket_id}",
        "in",
        1,
    )
    assert messages.Admission.from_dict(admission).gate == STAFF_GATE

    # once the event is long over, a new gate is not told about its check-ins
    later = clock() + timedelta(days=30)
    with database.sessions() as session:
        assert staff_admissions.enrollment_admissions(session, world.shop.venue_id, later) == []


@pytest.mark.parametrize("key", [STAFF_GATE, "_north"])
def test_gate_ids_starting_with_an_underscore_are_reserved(world: FleetWorld, key: str) -> None:
    body = {
        "venue_id": world.shop.venue_id,
        "key": key,
        "name": "Impostor",
        "zone_ids": [world.shop.zone_id],
    }
    headers = {**world.headers, "Accept-Language": "en"}
    response = world.client.post("/api/v1/fleet/gates", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "fleet.gate_key_reserved"
    assert "reserved" in response.json()["error"]["message"]
