"""The whole demo in this process: broker, server with its bridge, seed, two enrolled simulated
kiosks. Every kiosk decision must match its kind of ticket and reach the server exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from server.demo.plan import Kind
from server.demo.report import DemoSummary
from server.demo.run import Access, Demo, DemoOptions
from server.demo.seed import SeedSizes

#: generous: two kiosks finish their tours in a few seconds on an idle machine
TOUR_DEADLINE = 120.0


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Access, DemoSummary]]:
    options = DemoOptions(
        kiosks=2,
        port=0,
        data_dir=tmp_path_factory.mktemp("demo") / "var",
        language="en",
        sizes=SeedSizes(tickets=120, checked_in_at_counter=10, refunded_before=8, refunded_live=4),
    )
    with Demo(options, progress=lambda _: None) as demo:
        access = demo.start()
        page = httpx.get(access.dashboard_url, follow_redirects=True, timeout=10)
        assert page.status_code == 200, page.text
        demo.drive()
        deadline = time.monotonic() + TOUR_DEADLINE
        while not _toured(demo) and time.monotonic() < deadline:
            time.sleep(0.2)
        yield access, demo.finish()


def _toured(demo: Demo) -> bool:
    """Every kiosk has shown a ticket a second time (the last step of its tour)."""
    return all(
        any(result.planned.kind is Kind.USED_AGAIN for result in kiosk.log.results)
        for kiosk in demo.kiosks
    )


def test_every_kind_was_decided_as_expected(finished: tuple[Access, DemoSummary]) -> None:
    _, summary = finished
    decided = {row.kind for row in summary.kinds}
    assert decided == set(Kind)
    for row in summary.kinds:
        assert row.as_expected == row.scanned, row
    assert summary.unexpected == 0
    assert summary.admitted + sum(summary.rejected_by_reason.values()) == summary.scanned


def test_forged_refunded_and_used_tickets_were_refused_for_their_reason(
    finished: tuple[Access, DemoSummary],
) -> None:
    _, summary = finished
    reasons = {row.kind: row.expected_reason for row in summary.kinds}
    assert reasons[Kind.UNKNOWN_KEY] == "unknown_key"
    assert reasons[Kind.WRONG_KEY] == reasons[Kind.ONE_CHARACTER] == "bad_signature"
    assert reasons[Kind.REFUNDED] == "revoked"
    assert reasons[Kind.USED_AGAIN] == "already_used"
    assert {"unknown_key", "bad_signature", "revoked", "already_used"} <= set(
        summary.rejected_by_reason
    )


def test_every_kiosk_scan_reached_the_server_exactly_once(
    finished: tuple[Access, DemoSummary],
) -> None:
    _, summary = finished
    assert summary.lost == []
    assert summary.duplicated == []
    assert summary.unknown == []
    assert summary.stored == summary.scanned
    assert summary.stored_admitted == summary.admitted
    assert summary.outboxes_drained
    assert not summary.events_lost


def test_the_server_counted_admissions_and_the_gates_refused_counter_tickets(
    finished: tuple[Access, DemoSummary],
) -> None:
    _, summary = finished
    kinds = {row.kind: row for row in summary.kinds}
    admitted_once = kinds[Kind.VALID].scanned + kinds[Kind.TYPED_CODE].scanned
    assert summary.checkins.admitted == admitted_once
    # checked in at the box office first: the gates heard it at enrollment and refused them,
    # so nothing was let in twice and there is nothing to flag
    counter = kinds[Kind.CHECKED_AT_COUNTER]
    assert counter.scanned > 0 and counter.as_expected == counter.scanned
    assert summary.checkins.conflicts == 0


def test_the_demo_prints_a_dashboard_link_that_logs_the_operator_in(
    finished: tuple[Access, DemoSummary],
) -> None:
    access, _ = finished
    assert access.dashboard_url.startswith(access.base_url + "/dashboard?token=")
    assert access.admin_password and access.owner_password
