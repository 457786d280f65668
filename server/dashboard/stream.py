"""Server-sent events: the wire format and the per-tab stream of live fleet events.

Each tab gets its own queue on the fleet's :class:`server.fleet.live.LiveFeed`, filtered to the
viewer's merchant. A comment line goes out after ``heartbeat`` seconds without an event, so
proxies keep the connection open and a closed tab is noticed (the write fails). Besides the
feed, an optional ``poll`` runs every ``poll_every`` seconds (the first time at once) and its
events go out too: gate health, which no feed event announces (see
:mod:`server.dashboard.live_health`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from server.fleet.live import LiveFeed

RETRY_MS = 3000

Poll = Callable[[], Awaitable[list[tuple[str, dict[str, Any]]]]]


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
    poll: Poll | None = None,
    poll_every: float = 5.0,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    key, queue = feed.subscribe(merchant_id)
    try:
        yield f"retry: {RETRY_MS}\n".encode() + sse_event("hello", {"merchant_id": merchant_id})
        quiet_until = loop.time() + heartbeat
        poll_at = loop.time() if poll is not None else None
        while not await disconnected():
            if poll is not None and poll_at is not None and loop.time() >= poll_at:
                polled = await poll()
                poll_at = loop.time() + poll_every
                for kind, data in polled:
                    yield sse_event(kind, data)
                if polled:
                    quiet_until = loop.time() + heartbeat
            wake = quiet_until if poll_at is None else min(quiet_until, poll_at)
            try:
                event = await asyncio.wait_for(queue.get(), timeout=max(0.0, wake - loop.time()))
            except TimeoutError:
                if loop.time() >= quiet_until:
                    yield b": heartbeat\n\n"
                    quiet_until = loop.time() + heartbeat
                continue
            yield sse_event(event.kind, event.data)
            quiet_until = loop.time() + heartbeat
    finally:
        feed.unsubscribe(key)
