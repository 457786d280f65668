"""Forgetting callback nonces: only once a replay is refused by its timestamp anyway, refused
notifications kept longer as a record, and the periodic job doing it batch by batch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.clock import ManualClock
from server.db import Database
from server.payments import service
from server.payments.jobs import PRUNE_NOTIFICATION_NONCES
from server.payments.models import NotificationOutcome, PaymentNotification
from server.payments.providers import (
    CLOCK_MARGIN,
    NONCE_RETENTION,
    REPLAY_WINDOW,
    CallbackRejected,
    SandboxProvider,
    nonce_prune_cutoff,
)
from tests.server.catalog.builders import on_sale
from tests.server.helpers import AccountFactory, error_code

NOTIFY = "/api/payments/sandbox/notify"
AUDIT = timedelta(days=90)


def _nonces(database: Database) -> list[str]:
    with database.sessions() as session:
        return list(session.scalars(select(PaymentNotification.nonce)))


def _paid_by_notification(
    client: TestClient, accounts: AccountFactory, clock: ManualClock
) -> tuple[dict[str, str], bytes, dict[str, Any], dict[str, str]]:
    """An order paid through the sandbox: the notification's headers and body, the order and
    the visitor's headers."""
    made = on_sale(client, accounts.merchant(), clock())
    visitor = accounts.visitor()
    order = client.post(
        "/api/sales/buy-now",
        json={"tickets": [{"ticket_type_id": made.ticket_type_id}]},
        headers=visitor.headers,
    ).json()[0]
    started = client.post(
        "/api/sales/payments",
        json={"order_ids": [order["id"]], "provider": "sandbox"},
        headers=visitor.headers,
    ).json()
    sandbox = SandboxProvider.from_settings(client.app.state.settings)  # type: ignore[attr-defined]
    headers, body = sandbox.notification(
        reference=started["reference"],
        provider_txn_id="wx-1",
        amount_fen=started["amount_fen"],
        currency=started["currency"],
        now=clock(),
    )
    accepted = client.post(NOTIFY, content=body, headers=headers)
    assert accepted.json()["outcome"] == "accepted", accepted.text
    return headers, body, order, visitor.headers


def test_a_pruned_nonce_cannot_be_replayed_its_timestamp_is_refused(
    app: FastAPI,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    headers, body, order, visitor_headers = _paid_by_notification(client, accounts, clock)
    assert _nonces(database) == [headers["x-sandbox-nonce"]]
    clock.advance(NONCE_RETENTION + timedelta(seconds=1))
    PRUNE_NOTIFICATION_NONCES.run(app.state.context, clock())
    assert _nonces(database) == []

    replay = client.post(NOTIFY, content=body, headers=headers)
    assert replay.status_code == 400
    assert error_code(replay) == "payments.callback_rejected"
    assert replay.json()["error"]["detail"] == {"reason": "timestamp outside the replay window"}
    assert _nonces(database) == []  # a refused callback stores nothing
    read = client.get(f"/api/sales/orders/{order['id']}", headers=visitor_headers).json()
    assert read["status"] == "paid"


def test_nonces_still_inside_the_window_are_kept_and_replays_stay_duplicates(
    app: FastAPI,
    client: TestClient,
    accounts: AccountFactory,
    clock: ManualClock,
    database: Database,
) -> None:
    headers, body, _, _ = _paid_by_notification(client, accounts, clock)
    clock.advance(REPLAY_WINDOW)  # the last moment the timestamp is still accepted
    PRUNE_NOTIFICATION_NONCES.run(app.state.context, clock())
    assert _nonces(database) == [headers["x-sandbox-nonce"]]
    replay = client.post(NOTIFY, content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["outcome"] == "duplicate"


def _notification(
    nonce: str, sent_at: datetime, outcome: NotificationOutcome
) -> PaymentNotification:
    return PaymentNotification(
        provider="sandbox",
        nonce=nonce,
        reference="20250101" + nonce,
        provider_txn_id="tx-" + nonce,
        amount_fen=100,
        outcome=outcome,
        sent_at=sent_at,
        received_at=sent_at,
    )


def test_refused_notifications_are_kept_for_the_audit_retention(
    clock: ManualClock, database: Database
) -> None:
    start = clock()
    with database.sessions.begin() as session:
        session.add_all(
            [
                _notification("ok", start, NotificationOutcome.ACCEPTED),
                _notification("dup", start, NotificationOutcome.DUPLICATE),
                _notification("fail", start, NotificationOutcome.FAILED),
                _notification("mismatch", start, NotificationOutcome.AMOUNT_MISMATCH),
                _notification("unknown", start, NotificationOutcome.UNKNOWN_PAYMENT),
            ]
        )
    with database.sessions.begin() as session:
        pruned = service.prune_notifications(
            session, start + timedelta(hours=1), audit_retention=AUDIT
        )
    assert pruned == 3
    assert sorted(_nonces(database)) == ["mismatch", "unknown"]
    with database.sessions.begin() as session:
        later = start + AUDIT + timedelta(seconds=1)
        assert service.prune_notifications(session, later, audit_retention=AUDIT) == 2
    assert _nonces(database) == []


def test_a_short_audit_retention_never_shortens_the_nonce_retention(
    clock: ManualClock, database: Database
) -> None:
    start = clock()
    with database.sessions.begin() as session:
        session.add(_notification("mismatch", start, NotificationOutcome.AMOUNT_MISMATCH))
    with database.sessions.begin() as session:
        at = start + REPLAY_WINDOW
        assert service.prune_notifications(session, at, audit_retention=timedelta(0)) == 0
    assert _nonces(database) == ["mismatch"]


def test_pruning_goes_in_batches_oldest_first(clock: ManualClock, database: Database) -> None:
    start = clock()
    with database.sessions.begin() as session:
        session.add_all(
            _notification(f"n{i}", start + timedelta(seconds=i), NotificationOutcome.ACCEPTED)
            for i in range(5)
        )
    later = start + timedelta(days=1)
    with database.sessions.begin() as session:
        assert service.prune_notifications(session, later, audit_retention=AUDIT, limit=2) == 2
    assert sorted(_nonces(database)) == ["n2", "n3", "n4"]
    with database.sessions.begin() as session:
        assert service.prune_notifications(session, later, audit_retention=AUDIT, limit=10) == 3


def test_concurrent_sweeps_delete_each_nonce_once(clock: ManualClock, database: Database) -> None:
    start = clock()
    with database.sessions.begin() as session:
        session.add_all(
            _notification(f"n{i}", start, NotificationOutcome.ACCEPTED) for i in range(40)
        )
    barrier = threading.Barrier(4)
    counts: list[int] = []
    lock = threading.Lock()

    def sweep() -> None:
        barrier.wait()
        with database.sessions.begin() as session:
            pruned = service.prune_notifications(
                session, start + timedelta(hours=1), audit_retention=AUDIT
            )
        with lock:
            counts.append(pruned)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 40
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PaymentNotification)) == 0


SANDBOX = SandboxProvider(b"k" * 32)
BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECONDS = st.integers(min_value=0, max_value=3 * 24 * 3600)


@given(sent=SECONDS, pruned_after=SECONDS, skew=SECONDS, later=SECONDS)
def test_whatever_pruning_forgets_is_refused_by_timestamp(
    sent: int, pruned_after: int, skew: int, later: int
) -> None:
    """A nonce pruned at ``prune_at`` is never needed again: the notification is refused by
    every instance checking it at or after ``prune_at``, even with a clock up to
    ``CLOCK_MARGIN`` behind the pruner's."""
    sent_at = BASE + timedelta(seconds=sent)
    prune_at = sent_at + timedelta(seconds=pruned_after)
    if not sent_at < nonce_prune_cutoff(prune_at):
        return  # kept: the stored nonce still answers a replay
    behind = timedelta(seconds=skew % int(CLOCK_MARGIN.total_seconds() + 1))
    checked_at = prune_at - behind + timedelta(seconds=later)
    headers, body = SANDBOX.notification(
        reference="r", provider_txn_id="t", amount_fen=1, currency="CNY", now=sent_at
    )
    try:
        SANDBOX.verify_notification(headers, body, checked_at)
    except CallbackRejected as refused:
        assert refused.detail == {"reason": "timestamp outside the replay window"}
    else:
        raise AssertionError(f"replay accepted at {checked_at} after pruning at {prune_at}")
