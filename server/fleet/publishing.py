"""What fleet services need from the MQTT side: publish one message after a commit."""

from __future__ import annotations

from typing import Protocol


class Publisher(Protocol):
    """The running bridge's client (tests may pass a recorder)."""

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1; must not block on the broker and must be safe from any thread."""
