"""The in-process broadcaster between the bridge and the dashboard's SSE streams.

The bridge (threads) publishes events after each commit; every open stream (an asyncio task per
browser tab) has its own bounded queue. A slow tab loses its oldest events rather than holding
up the bridge; the page reloads its state when it sees a ``resync`` event.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 500


@dataclass(frozen=True)
class LiveEvent:
    """``kind`` is "scan", "gate" or "command"; ``merchant_id`` scopes who may see it."""

    kind: str
    merchant_id: int
    data: dict[str, Any]


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[LiveEvent]
    merchant_id: int
    dropped: int = 0


@dataclass
class LiveFeed:
    """Fan-out of live events to the open dashboard streams."""

    _by_id: dict[int, _Subscriber] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, merchant_id: int) -> tuple[int, asyncio.Queue[LiveEvent]]:
        """A queue of this merchant's events; call from the stream's event loop."""
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        subscriber = _Subscriber(asyncio.get_running_loop(), queue, merchant_id)
        with self._lock:
            key = id(subscriber)
            self._by_id[key] = subscriber
        return key, queue

    def unsubscribe(self, key: int) -> None:
        with self._lock:
            self._by_id.pop(key, None)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._by_id)

    def publish(self, event: LiveEvent) -> None:
        """Hand ``event`` to every subscriber of its merchant; safe from any thread."""
        with self._lock:
            targets = [s for s in self._by_id.values() if s.merchant_id == event.merchant_id]
        for subscriber in targets:
            try:
                subscriber.loop.call_soon_threadsafe(_offer, subscriber, event)
            except RuntimeError:  # the stream's loop is closed; it will unsubscribe
                continue


def _offer(subscriber: _Subscriber, event: LiveEvent) -> None:
    if subscriber.queue.full():
        subscriber.queue.get_nowait()
        subscriber.dropped += 1
    subscriber.queue.put_nowait(event)
