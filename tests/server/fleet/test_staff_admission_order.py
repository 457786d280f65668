"""A merchant's staff admissions commit in record id order (PostgreSQL, where ids are taken at
insert): the gates' chain of staff admissions (each names the one before it) then never skips
one that committed late.

PostgreSQL only: on SQLite a second check-in cannot even begin while the first is open (one
writer at a time), so ids always commit in order there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from protocol import messages
from server.accounts.models import MerchantRole
from server.checkin import service
from server.checkin.models import CheckinMethod, CheckinSource, Direction
from server.clock import ManualClock
from server.db import Database
from server.fleet import staff_admissions
from tests.server.conftest import BACKENDS
from tests.server.fleet.helpers import FleetWorld, buy_ticket, staff_check_in
from tests.server.fleet.kiosk_double import wait_until
from tests.server.helpers import Account, AccountFactory

pytestmark = pytest.mark.parametrize(
    "database_url", [name for name in BACKENDS if name == "postgresql"], indirect=True
)


def _publish(database: Database, clock: ManualClock) -> list[messages.Admission]:
    sent: list[messages.Admission] = []

    def publish(topic: str, payload: bytes) -> None:
        message = messages.decode(payload)
        assert isinstance(message, messages.Admission)
        sent.append(message)

    with database.sessions.begin() as session:
        staff_admissions.publish_pending(session, publish, root="admit", now=clock(), limit=100)
    return sent


@contextmanager
def _open_check_in(
    database: Database, world: FleetWorld, staff: Account, ticket_ids: list[int], clock: ManualClock
) -> Iterator[Session]:
    """Staff check-ins of ``ticket_ids`` in one transaction, left open until the block ends."""
    merchant_id = world.shop.merchant.merchant_id
    with database.sessions.begin() as session:
        actor = service.checker_actor(
            session, merchant_id, staff.user_id, MerchantRole.CHECKER, source=CheckinSource.CHECKER
        )
        attempt = service.Attempt(
            method=CheckinMethod.TICKET,
            direction=Direction.IN,
            scanned_at=clock(),
            received_at=clock(),
        )
        outcomes = service.check_tickets(session, merchant_id, actor, ticket_ids, attempt)
        assert all(outcome.admitted for outcome in outcomes)
        yield session


def _waiting_for_advisory_locks(database: Database) -> int:
    with database.sessions() as session:
        query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return int(session.execute(query).scalar_one())


def _in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    return thread, result


def test_a_later_staff_check_in_waits_for_an_open_one_and_is_chained_after_it(
    world: FleetWorld, accounts: AccountFactory, database: Database, clock: ManualClock
) -> None:
    world.enroll("north-1")
    staff = accounts.staff(world.shop.merchant, MerchantRole.CHECKER)
    other = accounts.staff(world.shop.merchant, MerchantRole.CHECKER)
    early, late = (buy_ticket(world, accounts, database) for _ in range(2))

    with _open_check_in(database, world, staff, [early], clock):
        thread, result = _in_thread(lambda: staff_check_in(world, other.headers, late))
        wait_until(lambda: _waiting_for_advisory_locks(database) == 1, "the later one waits")
        assert result == [], "the later check-in is not done while the earlier one is open"
        assert _publish(database, clock) == []
    thread.join(30)
    assert result and result[0]["admitted"] is True

    first, second = _publish(database, clock)
    assert (first.ticket_key, second.ticket_key) == (f"t:{early}", f"t:{late}")
    assert first.seq is not None and second.seq is not None and first.seq < second.seq
    assert (first.prev, second.prev) == (0, first.seq)


def test_staff_checking_the_same_tickets_in_opposite_orders_do_not_deadlock(
    world: FleetWorld, accounts: AccountFactory, database: Database, clock: ManualClock
) -> None:
    """The turn is taken before any ticket is claimed, so two transactions each holding a
    ticket the other wants cannot also wait for each other's turn."""
    world.enroll("north-1")
    one, two = (accounts.staff(world.shop.merchant, MerchantRole.CHECKER) for _ in range(2))
    first, second = (buy_ticket(world, accounts, database, entries=2) for _ in range(2))

    with _open_check_in(database, world, one, [first, second], clock):
        thread, result = _in_thread(
            lambda: world.client.post(
                "/api/merchant/checkin/tickets",
                json={"ticket_ids": [second, first]},
                headers=two.headers,
            )
        )
        wait_until(lambda: _waiting_for_advisory_locks(database) == 1, "the other one waits")
    thread.join(30)
    assert result and result[0].status_code == 200, result
    assert [r["admitted"] for r in result[0].json()["results"]] == [True, True]
    assert len(_publish(database, clock)) == 4
