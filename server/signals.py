"""In-process domain signals, delivered synchronously inside the sender's transaction.

Feature packages stay decoupled: tickets announces what it issued or revoked and whose signing
keys changed, check-in announces what staff let in, and the fleet (which versions and publishes
gate lists, keyrings and staff admissions) listens, without tickets or check-in importing fleet.
Receivers run in the sender's session, so their writes commit or roll back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

Receiver = Callable[[Session, Sequence[T]], None]


class Signal(Generic[T]):
    """A named hook with an ordered list of receivers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Receiver[T]] = []

    def connect(self, receiver: Receiver[T]) -> Receiver[T]:
        """Register ``receiver`` once (usable as a decorator)."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Receiver[T]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    def send(self, session: Session, items: Sequence[T]) -> None:
        """Call every receiver in order; an exception aborts the sender's transaction."""
        for receiver in list(self._receivers):
            receiver(session, items)

    def __repr__(self) -> str:
        return f"Signal({self.name!r}, receivers={len(self._receivers)})"


tickets_issued: Signal[Any] = Signal("tickets_issued")
tickets_revoked: Signal[Any] = Signal("tickets_revoked")
#: Merchant ids whose trusted signing keys changed (a key rotated in or retired).
keys_changed: Signal[int] = Signal("keys_changed")
#: Check-in records of admissions and exits by staff (checkers, the back office), so the fleet
#: tells the gates (a gate's own admissions are already its gossip).
staff_checked_in: Signal[Any] = Signal("staff_checked_in")
