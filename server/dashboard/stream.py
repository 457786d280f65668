"""Server-sent events: the wire format and the per-tab stream of live fleet events.

Each tab gets its own queue on the fleet's :class:`server.fleet.live.LiveFeed`, filtered to the
viewer's merchant. A comment line goes out every ``heartbeat`` seconds so proxies keep the
connection open and a closed tab is noticed (the write fails).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from server.fleet.live import LiveFeed

RETRY_MS = 3000


def sse_event(kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event: ``event: <kind>`` and one JSON ``data:`` line."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"event: {kind}\ndata: {payload}\n\n".encode()


async def live_events(
    feed: LiveFeed,
    merchant_id: int,
    *,
    heartbeat: float,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    key, queue = feed.subscribe(merchant_id)
    try:
        yield f"retry: {RETRY_MS}\n".encode() + sse_event("hello", {"merchant_id": merchant_id})
        while not await disconnected():
            try:
                event = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            yield sse_event(event.kind, event.data)
    finally:
        feed.unsubscribe(key)
