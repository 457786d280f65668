"""Reading the dashboard's SSE stream from a test: a thread per tab, events into a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.server.fleet.kiosk_double import WAIT_SECONDS


@contextmanager
def sse_events(base_url: str, headers: dict[str, str]) -> Iterator[queue.Queue[tuple[str, str]]]:
    """Read the stream on a thread; yields a queue of (event, data) pairs."""
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        with (
            httpx.Client(base_url=base_url, timeout=None) as client,
            client.stream("GET", "/api/v1/dashboard/stream", headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    events.put((kind, line[len("data: ") :]))
                elif line.startswith(": heartbeat"):
                    events.put(("heartbeat", ""))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield events
    finally:
        stop.set()


def next_event(events: queue.Queue[tuple[str, str]], kind: str) -> dict[str, Any]:
    """The next event of ``kind``, skipping others."""
    return collect(events, {kind})[kind]


def collect(events: queue.Queue[tuple[str, str]], kinds: set[str]) -> dict[str, dict[str, Any]]:
    """The first event of each of ``kinds``, in whatever order they come."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + WAIT_SECONDS
    while set(found) != kinds:
        got, data = events.get(timeout=max(0.0, deadline - time.monotonic()))
        if got in kinds and got not in found:
            found[got] = json.loads(data) if data else {}
    return found
