"""Domain signals call their receivers in order, inside the sender's session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from server.signals import Signal


def test_receivers_run_in_order_with_the_senders_session() -> None:
    signal: Signal[int] = Signal("numbers")
    calls: list[tuple[str, Session, list[int]]] = []

    def first(session: Session, items: Sequence[int]) -> None:
        calls.append(("first", session, list(items)))

    def second(session: Session, items: Sequence[int]) -> None:
        calls.append(("second", session, list(items)))

    signal.connect(first)
    signal.connect(second)
    signal.connect(first)  # connecting twice keeps one registration
    with Session(create_engine("sqlite://")) as session:
        signal.send(session, [1, 2])
        assert calls == [("first", session, [1, 2]), ("second", session, [1, 2])]


def test_a_failing_receiver_propagates_so_the_transaction_aborts() -> None:
    signal: Signal[Any] = Signal("boom")

    def broken(_session: Session, _items: Sequence[Any]) -> None:
        raise RuntimeError("receiver failed")

    signal.connect(broken)
    with Session(create_engine("sqlite://")) as session, pytest.raises(RuntimeError):
        signal.send(session, ["x"])
    signal.disconnect(broken)
    with Session(create_engine("sqlite://")) as session:
        signal.send(session, ["x"])  # no receivers left: nothing happens
