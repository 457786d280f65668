"""List catch-up: the plan and the limiter (pure), and the bridge answering a gate that reports
old list versions, against a real broker and database with a fake kiosk.

The bridge's clock is the tests' ManualClock and never advances by itself, so "at most once per
interval" is exact here: a repeated request is held back for the whole test.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from protocol import messages
from protocol.allowlist import ListDigest
from protocol.messages import CommandResult, ListUpdate
from server.accounts.models import MerchantRole
from server.db import Database
from server.fleet import metrics
from server.fleet.bridge import FleetBridge
from server.fleet.catchup import (
    CatchupLimiter,
    HeldList,
    PlanKind,
    StaffPlan,
    StaffSent,
    plan_catchup,
    plan_staff_catchup,
)
from server.fleet.keyrings import gate_keyring
from server.fleet.models import ListName, SiteList
from server.fleet.settings import FleetSettings
from server.signals import tickets_issued, tickets_revoked
from tests.server.fleet.helpers import FleetWorld, buy_ticket, staff_check_in
from tests.server.fleet.kiosk_double import FakeKiosk, wait_until
from tests.server.helpers import AccountFactory

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
DIGEST = "ab" * 32


def _head(version: int, digest: str = DIGEST) -> SiteList:
    return SiteList(venue_id=1, list=ListName.ALLOWLIST, version=version, digest=digest, count=1)


# --- the plan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "head_version", "expected"),
    [
        (HeldList(5), 5, PlanKind.NOTHING),
        (HeldList(4), 5, PlanKind.DELTAS),
        (HeldList(2), 5, PlanKind.DELTAS),  # 3 behind, bound 3
        (HeldList(1), 5, PlanKind.SNAPSHOT),  # 4 behind
        (HeldList(0), 5, PlanKind.SNAPSHOT),
        (HeldList(6), 5, PlanKind.SNAPSHOT),  # ahead of the server: its database went back
        (HeldList(4, snapshot_wanted=True), 5, PlanKind.SNAPSHOT),
        (HeldList(5, snapshot_wanted=True), 5, PlanKind.SNAPSHOT),
        (HeldList(5, digest=DIGEST), 5, PlanKind.NOTHING),
        (HeldList(5, digest="cd" * 32), 5, PlanKind.SNAPSHOT),  # audit: same version, other list
    ],
)
def test_plan(held: HeldList, head_version: int, expected: PlanKind) -> None:
    assert plan_catchup(held, _head(head_version), max_deltas=3) is expected


def test_nothing_to_send_for_a_list_the_site_never_had() -> None:
    assert plan_catchup(HeldList(3), None, max_deltas=3) is PlanKind.NOTHING
    assert plan_catchup(HeldList(3), _head(0), max_deltas=3) is PlanKind.NOTHING


# --- the staff plan ---------------------------------------------------------------------------

INTERVAL = timedelta(seconds=30)


@pytest.mark.parametrize(
    ("held", "newest", "sent", "after", "expected"),
    [
        (40, 40, None, 0, StaffPlan.CURRENT),
        (0, 0, None, 0, StaffPlan.CURRENT),  # a site without staff check-ins
        (50, 40, None, 0, StaffPlan.CURRENT),  # ahead: the log went back; nothing to send
        (10, 40, None, 0, StaffPlan.RESEND),
        (10, 40, StaffSent(through=25, at=T0), 29, StaffPlan.WAIT),  # the batch is on its way
        (17, 40, StaffSent(through=25, at=T0), 29, StaffPlan.WAIT),  # and partly there
        (10, 40, StaffSent(through=25, at=T0), 30, StaffPlan.RESEND),  # lost: send it again
        (25, 40, StaffSent(through=25, at=T0), 1, StaffPlan.RESEND),  # arrived: the next one
        (40, 40, StaffSent(through=40, at=T0), 1, StaffPlan.CURRENT),
    ],
)
def test_staff_plan(
    held: int, newest: int, sent: StaffSent | None, after: int, expected: StaffPlan
) -> None:
    now = T0 + timedelta(seconds=after)
    assert plan_staff_catchup(held, newest, sent, now, INTERVAL) is expected


@given(
    reports=st.lists(
        st.tuples(st.integers(0, 120_000), st.integers(0, 60)), min_size=1, max_size=40
    ),
    newest=st.integers(0, 60),
    batch=st.integers(1, 10),
)
def test_no_staff_admission_is_sent_twice_within_an_interval_unless_reported_lost(
    reports: list[tuple[int, int]], newest: int, batch: int
) -> None:
    """Any sequence of reports (a gate's ``staff_seq`` over time, as statuses arrive, in any
    order of values): what the plan lets out covers each ``seq`` at most once per interval;
    a gate behind is answered at once unless a batch sent within the interval is on its way."""
    sent: StaffSent | None = None
    last_sent_at: dict[int, datetime] = {}
    for offset_ms, held in sorted(reports):
        now = T0 + timedelta(milliseconds=offset_ms)
        plan = plan_staff_catchup(held, newest, sent, now, INTERVAL)
        assert (plan is StaffPlan.CURRENT) == (held >= newest)
        if plan is StaffPlan.WAIT:
            assert sent is not None and held < sent.through and now - sent.at < INTERVAL
        if plan is not StaffPlan.RESEND:
            continue
        through = min(held + batch, newest)
        for seq in range(held + 1, through + 1):
            earlier = last_sent_at.get(seq)
            assert earlier is None or now - earlier >= INTERVAL
            last_sent_at[seq] = now
        sent = StaffSent(through, now)


# --- the limiter ------------------------------------------------------------------------------


def test_the_same_request_waits_for_the_interval_and_progress_for_the_spacing() -> None:
    limiter = CatchupLimiter(timedelta(seconds=30), timedelta(seconds=2))
    key = ("site", "north-1", "allowlist")
    request = (PlanKind.DELTAS, 3)

    assert limiter.allow(key, request, T0)
    assert not limiter.allow(key, request, T0 + timedelta(seconds=29))
    assert not limiter.allow(key, (PlanKind.DELTAS, 4), T0 + timedelta(seconds=1))
    assert limiter.allow(key, (PlanKind.DELTAS, 4), T0 + timedelta(seconds=2))
    assert limiter.allow(("site", "north-2", "allowlist"), request, T0)  # another gate
    assert not limiter.allow(key, (PlanKind.DELTAS, 4), T0 + timedelta(seconds=31))
    assert limiter.allow(key, (PlanKind.DELTAS, 4), T0 + timedelta(seconds=32))


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=120_000),
            st.sampled_from(list(PlanKind)),
            st.integers(min_value=0, max_value=3),
        ),
        max_size=60,
    )
)
def test_a_flapping_gate_gets_at_most_one_answer_per_spacing_and_per_interval(
    requests: list[tuple[int, PlanKind, int]],
) -> None:
    interval, spacing = timedelta(seconds=30), timedelta(seconds=2)
    limiter = CatchupLimiter(interval, spacing)
    key = ("site", "north-1", "revocations")
    allowed: list[tuple[datetime, tuple[PlanKind, int]]] = []
    for offset_ms, kind, version in sorted(requests, key=lambda r: r[0]):
        now = T0 + timedelta(milliseconds=offset_ms)
        if limiter.allow(key, (kind, version), now):
            allowed.append((now, (kind, version)))
    for (earlier, first), (later, second) in itertools.pairwise(allowed):
        assert later - earlier >= (interval if first == second else spacing)


# --- the bridge -------------------------------------------------------------------------------


@pytest.fixture
def fleet_settings(mqtt_url: str, tmp_path: Path) -> FleetSettings:
    return FleetSettings(
        mqtt_bridge=True,
        mqtt_url=mqtt_url,
        mqtt_root=f"c{uuid.uuid4().hex[:10]}",
        mqtt_client_id=f"server-{uuid.uuid4().hex[:10]}",
        mqtt_share_group=f"g{uuid.uuid4().hex[:8]}",
        list_sweep_interval=0.2,  # type: ignore[arg-type]
        catchup_max_deltas=2,
        catchup_min_spacing=0,  # type: ignore[arg-type]
        snapshot_chunk_size=2,
        catchup_staff_batch=2,
    )


@pytest.fixture
def bridge(app: FastAPI, client: TestClient) -> FleetBridge:
    running: FleetBridge = app.state.fleet_bridge
    assert running.wait_connected(20)
    return running


@pytest.fixture
def kiosk(world: FleetWorld, bridge: FleetBridge, mqtt_url: str) -> Iterator[FakeKiosk]:
    answer = world.enroll("north-1")
    fake = FakeKiosk(
        mqtt_url, site=answer["site"], gate="north-1", root=world.fleet_settings.mqtt_root
    )
    yield fake
    fake.close()


def _ticket(ticket_id: int, world: FleetWorld) -> SimpleNamespace:
    return SimpleNamespace(
        id=ticket_id,
        merchant_id=world.shop.merchant.merchant_id,
        event_id=world.shop.event_id,
        ticket_type_id=world.shop.ticket_type_id,
        code=f"{ticket_id:012d}",
        entries_allowed=1,
    )


def _sell_and_refund(database: Database, world: FleetWorld) -> list[SimpleNamespace]:
    """Allowlist v1 (three tickets), then two refunds: revocations v1, v2; allowlist v2, v3."""
    tickets = [_ticket(9001 + n, world) for n in range(3)]
    with database.sessions.begin() as session:
        tickets_issued.send(session, tickets)
    for refunded in tickets[:2]:
        with database.sessions.begin() as session:
            tickets_revoked.send(session, [refunded])
    return tickets


def _wait_for_announce(kiosk: FakeKiosk) -> None:
    wait_until(
        lambda: any(a.revocations_version == 2 for a in kiosk.messages_of("announce")),
        "the site's lists at revocations v2",
    )


def _gate_lists(kiosk: FakeKiosk, name: str) -> list[ListUpdate]:
    return [u for u in kiosk.messages_of("lists") if u.list == name]


def test_a_gate_a_few_versions_behind_gets_the_missing_deltas(
    world: FleetWorld, bridge: FleetBridge, database: Database, kiosk: FakeKiosk
) -> None:
    _sell_and_refund(database, world)
    _wait_for_announce(kiosk)

    kiosk.send(kiosk.status(allowlist_version=1, revocations_version=0))

    wait_until(lambda: len(_gate_lists(kiosk, "revocations")) == 2, "two revocation deltas")
    wait_until(lambda: len(_gate_lists(kiosk, "allowlist")) == 2, "two allowlist deltas")
    revocations = _gate_lists(kiosk, "revocations")
    assert [(u.snapshot, u.from_version, u.to_version) for u in revocations] == [
        (False, 0, 1),
        (False, 1, 2),
    ]
    assert [u.add for u in revocations] == [["9001"], ["9002"]]
    allow = _gate_lists(kiosk, "allowlist")
    assert [(u.from_version, u.to_version) for u in allow] == [(1, 2), (2, 3)]
    assert allow[-1].digest == kiosk.messages_of("announce")[-1].allowlist_digest
    assert bridge.metrics.count(metrics.CATCHUPS_SENT) == 2


def test_a_gate_further_behind_than_the_bound_gets_a_snapshot_in_chunks(
    world: FleetWorld, bridge: FleetBridge, database: Database, kiosk: FakeKiosk
) -> None:
    tickets = _sell_and_refund(database, world)
    _wait_for_announce(kiosk)
    more = [_ticket(9101 + n, world) for n in range(3)]
    with database.sessions.begin() as session:
        tickets_issued.send(session, more)  # allowlist v4: four entries

    kiosk.send(kiosk.status(allowlist_version=0, revocations_version=2))

    wait_until(lambda: len(_gate_lists(kiosk, "allowlist")) == 2, "two snapshot chunks")
    chunks = _gate_lists(kiosk, "allowlist")
    assert all(c.snapshot and c.to_version == 4 and c.chunks == 2 for c in chunks)
    assert [c.chunk for c in chunks] == [0, 1]
    entries = [entry for chunk in chunks for entry in chunk.add]
    assert len(entries) == 4 and ListDigest.of(entries).hex() == chunks[0].digest
    assert _gate_lists(kiosk, "revocations") == []  # that list is current
    meta = [facts for c in chunks for facts in (c.meta or {}).values()]
    assert {t.id for t in tickets[2:] + more} == {
        facts["ticket_id"] for facts in meta if isinstance(facts, dict)
    }


def test_a_digest_mismatch_result_gets_a_snapshot_though_the_version_is_close(
    world: FleetWorld, bridge: FleetBridge, database: Database, kiosk: FakeKiosk
) -> None:
    _sell_and_refund(database, world)
    _wait_for_announce(kiosk)
    refused = CommandResult(
        command_id=messages.new_id(),
        gate="north-1",
        ok=False,
        error="digest_mismatch",
        detail={"list": "revocations", "to_version": 2, "outcome": "digest_mismatch", "version": 1},
        ts=int(time.time() * 1000),
    )

    kiosk.publish_raw(kiosk.topics.command_results("north-1"), messages.encode(refused))

    wait_until(lambda: len(_gate_lists(kiosk, "revocations")) == 1, "a revocations snapshot")
    (snapshot,) = _gate_lists(kiosk, "revocations")
    assert (
        snapshot.snapshot and snapshot.to_version == 2 and sorted(snapshot.add) == ["9001", "9002"]
    )


def test_a_flapping_gate_is_answered_once_per_request_and_again_when_it_progresses(
    world: FleetWorld, bridge: FleetBridge, database: Database, kiosk: FakeKiosk
) -> None:
    _sell_and_refund(database, world)
    _wait_for_announce(kiosk)
    behind = kiosk.status(allowlist_version=3, revocations_version=0)

    for _ in range(5):  # reconnects and republishes with the same versions
        kiosk.send(behind)
    wait_until(lambda: len(_gate_lists(kiosk, "revocations")) == 2, "the deltas, once")
    wait_until(lambda: bridge.metrics.count(metrics.CATCHUPS_LIMITED) >= 5, "repeats held back")
    assert len(_gate_lists(kiosk, "revocations")) == 2
    assert bridge.metrics.count(metrics.CATCHUPS_SENT) == 1

    kiosk.send(kiosk.status(allowlist_version=3, revocations_version=1))  # progress

    wait_until(lambda: len(_gate_lists(kiosk, "revocations")) == 3, "the rest")
    assert _gate_lists(kiosk, "revocations")[-1].from_version == 1
    assert bridge.metrics.count(metrics.CATCHUPS_SENT) == 2


def test_a_gate_that_reports_current_lists_is_forgotten(
    world: FleetWorld, bridge: FleetBridge, database: Database, kiosk: FakeKiosk
) -> None:
    _sell_and_refund(database, world)
    _wait_for_announce(kiosk)
    kiosk.send(kiosk.status(allowlist_version=3, revocations_version=1))
    wait_until(lambda: len(_gate_lists(kiosk, "revocations")) == 1, "the missing delta")
    assert bridge.catchup.reported() != {}

    kiosk.send(kiosk.status(allowlist_version=3, revocations_version=2))

    wait_until(lambda: bridge.catchup.reported() == {}, "the gate to be settled")
    assert len(kiosk.messages_of("lists")) == 1


def test_a_gate_reporting_another_keyring_gets_set_keys_once_per_interval(
    world: FleetWorld, bridge: FleetBridge, database: Database, kiosk: FakeKiosk
) -> None:
    """A wrong keyring digest brings one ``set_keys`` with the merchant's keyring; the same
    report again within the catch-up interval brings nothing more; the right digest settles
    the gate."""
    with database.sessions() as session:
        merchant_keys = gate_keyring(session, world.shop.merchant.merchant_id)
    stale = messages.keyring_digest({"1": None})
    assert stale != messages.keyring_digest(merchant_keys)

    kiosk.send(kiosk.status(keyring=stale))
    wait_until(lambda: len(kiosk.messages_of("commands")) == 1, "a set_keys command")
    (command,) = kiosk.messages_of("commands")
    assert (command.name, command.args) == ("set_keys", {"keys": merchant_keys})

    kiosk.send(kiosk.status(keyring=stale, outbox_depth=1))
    wait_until(
        lambda: bridge.metrics.count(metrics.CATCHUPS_LIMITED) > 0, "the repeat to be held back"
    )
    assert len(kiosk.messages_of("commands")) == 1

    kiosk.send(kiosk.status(keyring=messages.keyring_digest(merchant_keys)))
    wait_until(lambda: bridge.catchup.reported_keyrings() == {}, "the gate to be settled")
    assert len(kiosk.messages_of("commands")) == 1


# --- staff check-ins a gate missed ------------------------------------------------------------


def _staff_resent(kiosk: FakeKiosk) -> list[messages.Admission]:
    return [m for m in kiosk.messages_of("lists") if isinstance(m, messages.Admission)]


def _checked_in_by_staff(
    world: FleetWorld, accounts: AccountFactory, database: Database, kiosk: FakeKiosk, count: int
) -> list[messages.Admission]:
    """``count`` tickets checked in by a checker; the live messages the gate heard of them."""
    checker = accounts.staff(world.shop.merchant, MerchantRole.CHECKER).headers
    for _ in range(count):
        ticket = buy_ticket(world, accounts, database)
        assert staff_check_in(world, checker, ticket)["admitted"] is True

    def live() -> list[messages.Admission]:
        return [a for a in kiosk.messages_of("admissions") if a.gate == "_staff"]

    wait_until(lambda: len(live()) == count, "the live staff admissions")
    return sorted(live(), key=lambda a: a.seq or 0)


def test_a_gate_whose_staff_seq_is_behind_gets_the_rest_in_batches_and_is_settled(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosk: FakeKiosk,
    accounts: AccountFactory,
) -> None:
    """The gate lost its session: its status says it holds none of the three. It gets the
    first two (the batch) chained from its staff_seq on its own lists topic, nothing more while
    they are on their way, the third once its status shows the two, and is then settled."""
    live = _checked_in_by_staff(world, accounts, database, kiosk, 3)
    seqs = [a.seq or 0 for a in live]

    kiosk.send(kiosk.status(staff_seq=0))
    wait_until(lambda: len(_staff_resent(kiosk)) == 2, "the first batch")
    first = _staff_resent(kiosk)
    assert [(a.seq, a.prev) for a in first] == [(seqs[0], 0), (seqs[1], seqs[0])]
    assert [(a.ticket_key, a.at) for a in first] == [(a.ticket_key, a.at) for a in live[:2]]

    kiosk.send(kiosk.status(staff_seq=0, outbox_depth=3))  # the batch has not arrived yet
    wait_until(lambda: bridge.metrics.count(metrics.CATCHUPS_LIMITED) > 0, "a held-back pass")
    assert len(_staff_resent(kiosk)) == 2

    kiosk.send(kiosk.status(staff_seq=seqs[1]))
    wait_until(lambda: len(_staff_resent(kiosk)) == 3, "the next batch")
    assert (_staff_resent(kiosk)[-1].seq, _staff_resent(kiosk)[-1].prev) == (seqs[2], seqs[1])

    kiosk.send(kiosk.status(staff_seq=seqs[2]))
    wait_until(lambda: bridge.catchup.reported_staff() == {}, "the gate to be settled")
    assert len(_staff_resent(kiosk)) == 3
    assert bridge.metrics.count(metrics.STAFF_ADMISSIONS_RESENT) == 3
    assert bridge.metrics.count(metrics.CATCHUPS_SENT) == 2


def test_a_status_without_staff_seq_is_an_older_kiosk_and_gets_nothing_resent(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosk: FakeKiosk,
    accounts: AccountFactory,
) -> None:
    _checked_in_by_staff(world, accounts, database, kiosk, 1)
    # no staff_seq, as from every kiosk before it; a stale keyring shows when a pass ran
    kiosk.send(kiosk.status(keyring=messages.keyring_digest({"1": None})))
    wait_until(lambda: len(kiosk.messages_of("commands")) == 1, "a catch-up pass (set_keys)")
    assert bridge.catchup.reported_staff() == {}
    assert _staff_resent(kiosk) == []
    assert bridge.metrics.count(metrics.STAFF_ADMISSIONS_RESENT) == 0


def test_an_offline_gate_is_forgotten(
    world: FleetWorld,
    bridge: FleetBridge,
    database: Database,
    kiosk: FakeKiosk,
    accounts: AccountFactory,
) -> None:
    live = _checked_in_by_staff(world, accounts, database, kiosk, 1)
    kiosk.send(kiosk.status(staff_seq=0))
    wait_until(lambda: len(_staff_resent(kiosk)) == 1, "the resend")
    assert bridge.catchup.reported_staff() != {}
    kiosk.send(kiosk.status("offline", staff_seq=0))
    wait_until(lambda: bridge.catchup.reported_staff() == {}, "the gate to be forgotten")
    assert [a.seq for a in _staff_resent(kiosk)] == [live[0].seq]
