"""Staff check-ins reach the gates: queued in the check-in's transaction, gossiped by the bridge
as the pseudo-gate ``_staff``, numbered as a chain per site (``seq``, ``prev``), handed to gates
that enroll later and resent to gates behind; the outbox's depth and age for operators.

These tests run without a bridge (the queue is the contract); ``test_catchup.py`` resends
through a real broker, and ``tests/test_end_to_end.py`` runs the whole path with a real kiosk.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
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
from tests.server.fleet.helpers import FleetWorld, buy_ticket, staff_check_in
from tests.server.helpers import AccountFactory


class Published:
    """Stands in for the bridge's client: records what would go to the broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, messages.Message]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, messages.decode(payload)))


def _buy(world: FleetWorld, accounts: AccountFactory, database: Database, entries: int) -> int:
    return buy_ticket(world, accounts, database, entries=entries)


def _check(
    world: FleetWorld, headers: dict[str, str], ticket_id: int, **fields: Any
) -> dict[str, Any]:
    return staff_check_in(world, headers, ticket_id, **fields)


def _queued(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(PendingStaffAdmission)) or 0


def _publish(database: Database, clock: ManualClock, root: str = "admit") -> Published:
    published = Published()
    with database.sessions.begin() as session:
        staff_admissions.publish_pending(session, published, root=root, now=clock(), limit=100)
    return published


def _admissions(published: Published) -> list[messages.Admission]:
    found = [message for _, message in published.sent]
    assert all(isinstance(message, messages.Admission) for message in found)
    return found  # type: ignore[return-value]


def _buy_at(world: FleetWorld, accounts: AccountFactory, database: Database, event_id: int) -> int:
    """A one-entry ticket of another event of the world's merchant; its id."""
    return buy_ticket(world, accounts, database, event_id=event_id)


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


# --- the staff chain: seq and prev -----------------------------------------------------------


def _checkin(record_id: int, venue_id: int, site: str) -> staff_admissions.StaffCheckin:
    return staff_admissions.StaffCheckin(
        record_id=record_id,
        ticket_id=100 + record_id,
        direction="in",
        scanned_at=datetime(2025, 6, 1, 10, 0, tzinfo=UTC) + timedelta(seconds=record_id),
        venue_id=venue_id,
        site=site,
    )


def test_admission_messages_chain_each_site_from_its_first_prev() -> None:
    checkins = [_checkin(11, 1, "a"), _checkin(12, 2, "b"), _checkin(15, 1, "a")]
    checkins.append(_checkin(16, 2, "b"))
    sent = staff_admissions.admission_messages(checkins, {111: 1}, ts=5, first_prev={1: 7})
    assert [(site, a.seq, a.prev) for site, a in sent] == [
        ("a", 11, 7),
        ("b", 12, 0),  # nothing before it at site b
        ("a", 15, 11),
        ("b", 16, 12),
    ]
    assert [a.entries_used for _, a in sent] == [1, 0, 0, 0]
    assert all(a.gate == STAFF_GATE and a.ts == 5 for _, a in sent)


def test_live_staff_admissions_chain_per_site_across_publish_passes(
    world: FleetWorld,
    client: TestClient,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    """Each message names the site's staff check-in before it: within a pass from the batch,
    for a pass's first from the check-in log; another site's check-ins are another chain."""
    world.enroll("north-1")
    elsewhere = on_sale(client, world.shop.merchant, clock())
    FleetWorld(client, elsewhere, world.fleet_settings).enroll("west-1")
    here = [_buy(world, accounts, database, entries=1) for _ in range(3)]
    there = _buy_at(world, accounts, database, elsewhere.event_id)
    assert _check(world, checker, here[0])["admitted"] is True
    assert _check(world, checker, there)["admitted"] is True
    assert _check(world, checker, here[1])["admitted"] is True
    first = _admissions(_publish(database, clock))
    assert _check(world, checker, here[2])["admitted"] is True
    second = _admissions(_publish(database, clock))

    by_ticket = {a.ticket_key: a for a in first + second}
    a, b, c = (by_ticket[f"t:{ticket}"] for ticket in here)
    far = by_ticket[f"t:{there}"]
    assert [x.seq for x in first] == sorted(x.seq or 0 for x in first), "published in seq order"
    assert (a.prev, b.prev, c.prev) == (0, a.seq, b.seq)
    assert far.prev == 0 and a.seq is not None and a.seq < (far.seq or 0) < (b.seq or 0)


def test_an_enrolling_gate_gets_its_sites_chain_from_zero(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    checker: dict[str, str],
) -> None:
    tickets = [_buy(world, accounts, database, entries=1) for _ in range(3)]
    for ticket in tickets:
        assert _check(world, checker, ticket)["admitted"] is True
    answer = world.enroll("north-1")
    chain = [(a["seq"], a["prev"]) for a in answer["admissions"]]
    assert [a["ticket_key"] for a in answer["admissions"]] == [f"t:{t}" for t in tickets]
    assert chain[0][1] == 0
    assert all(prev == earlier[0] for earlier, (_, prev) in itertools.pairwise(chain))


def test_a_gate_behind_is_resent_what_follows_its_staff_seq_in_batches(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    world.enroll("north-1")
    tickets = [_buy(world, accounts, database, entries=1) for _ in range(4)]
    for ticket in tickets:
        assert _check(world, checker, ticket)["admitted"] is True
    live = _admissions(_publish(database, clock))
    seqs = [a.seq or 0 for a in live]
    venue = world.shop.venue_id

    with database.sessions() as session:
        assert staff_admissions.newest_seq(session, venue, clock()) == seqs[-1]
        batch = staff_admissions.resend_admissions(
            session, venue, after=seqs[0], now=clock(), limit=2
        )
        assert [(a.seq, a.prev) for a in batch] == [(seqs[1], seqs[0]), (seqs[2], seqs[1])]
        assert [a.ticket_key for a in batch] == [f"t:{t}" for t in tickets[1:3]]
        assert batch[0].entries_used == 1 and batch[0].at == live[1].at
        rest = staff_admissions.resend_admissions(
            session, venue, after=seqs[2], now=clock(), limit=2
        )
        assert [(a.seq, a.prev) for a in rest] == [(seqs[3], seqs[2])]
        nothing = staff_admissions.resend_admissions(
            session, venue, after=seqs[3], now=clock(), limit=2
        )
        assert nothing == []
        # a day after the event ended, its check-ins are no gate's business any more
        later = clock() + timedelta(days=30)
        assert staff_admissions.newest_seq(session, venue, later) == 0
        assert staff_admissions.resend_admissions(session, venue, after=0, now=later, limit=9) == []


def test_the_outbox_shows_its_depth_and_the_age_of_its_oldest_row(
    world: FleetWorld,
    accounts: AccountFactory,
    database: Database,
    clock: ManualClock,
    checker: dict[str, str],
) -> None:
    """What an operator reads in ``GET /api/v1/fleet/metrics``, from the database, with no
    bridge running: an outbox that keeps growing and ageing means no bridge drains it."""
    admin = accounts.platform_admin().headers

    def outbox() -> dict[str, Any]:
        response = world.client.get("/api/v1/fleet/metrics", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["running"] is False
        found: dict[str, Any] = response.json()["staff_outbox"]
        return found

    assert outbox() == {"depth": 0, "oldest_age_s": None}
    world.enroll("north-1")
    first = _buy(world, accounts, database, entries=1)
    assert _check(world, checker, first)["admitted"] is True
    clock.advance(timedelta(minutes=10))
    second = _buy(world, accounts, database, entries=1)
    assert _check(world, checker, second)["admitted"] is True
    clock.advance(timedelta(seconds=30))
    assert outbox() == {"depth": 2, "oldest_age_s": 630.0}

    _publish(database, clock)
    assert outbox() == {"depth": 0, "oldest_age_s": None}
    forbidden = world.client.get("/api/v1/fleet/metrics", headers=world.headers)
    assert forbidden.status_code == 403
