"""Gate health on the live stream: each open dashboard stream re-reads its merchant's gate rows
every :data:`POLL_SECONDS` and sends a ``health`` event for each gate whose health changed.

Why polling rather than an event from ingestion:

- Staleness is the passing of time, not a message: a gate that stops reporting turns unhealthy
  while nothing at all happens in the bridge, so something has to re-judge on a timer anyway.
- The bridge stores telemetry (``server.fleet.ingest``) without a live event, and that pipeline is
  not the dashboard's to change; the database row is the one place every telemetry lands.
- Reading the database sees telemetry whichever server process runs the bridge; the in-process
  :class:`~server.fleet.live.LiveFeed` only carries events of a bridge in the same process.

Cost: one narrow query (a handful of columns of the merchant's gates, no relationships) per open
tab every 5 s, taken through the request gate like any request's database turn. Kiosks report
every ``interval_s`` (a minute by default), so the poll adds at most 5 s to figures that are
up to an interval old. Only gates
whose :func:`~server.dashboard.present.signature` changed are sent (the first poll of a stream
sends every gate, which also brings a reconnected tab up to date); ages are counted up by the
page itself, so a quiet fleet costs the queries and no traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError

from server.clock import Clock
from server.dashboard.health import assess
from server.dashboard.present import gate_view, signature
from server.dashboard.repository import GateTelemetryRow, gate_telemetry
from server.dashboard.templating import render_health_row
from server.db import Database, RequestGate

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0

Reader = Callable[[], Awaitable[tuple[list[GateTelemetryRow], datetime]]]


class HealthTracker:
    """Remembers what one stream last sent per gate; answers the gates to send again."""

    def __init__(self, language: str, texts: dict[str, str]) -> None:
        self.language = language
        self.texts = texts
        self._sent: dict[int, tuple[object, ...]] = {}

    def changed(self, rows: list[GateTelemetryRow], now: datetime) -> list[dict[str, Any]]:
        """The ``health`` event data (the view plus its rendered row) of every gate whose health
        differs from what was last sent, judged at ``now``."""
        events = []
        for row in rows:
            health = assess(row.telemetry, row.telemetry_at, now)
            mark = signature(row, health)
            if self._sent.get(row.gate_id) == mark:
                continue
            self._sent[row.gate_id] = mark
            view = gate_view(row, health, self.language)
            view["checked_at"] = now.isoformat()
            view["html"] = render_health_row(view, self.texts)
            events.append(view)
        return events


def database_reader(
    database: Database, gate: RequestGate, clock: Clock, merchant_id: int
) -> Reader:
    """Reads the merchant's gate rows in a worker thread during a database turn of its own."""

    def read() -> tuple[list[GateTelemetryRow], datetime]:
        with database.read() as session:
            return gate_telemetry(session, merchant_id), clock()

    async def turn() -> tuple[list[GateTelemetryRow], datetime]:
        async with gate.sessions:
            return await anyio.to_thread.run_sync(read)

    return turn


def health_poll(
    reader: Reader, tracker: HealthTracker
) -> Callable[[], Awaitable[list[tuple[str, dict[str, Any]]]]]:
    """The stream's poll: ``health`` events for the changed gates. A database error is logged
    and the poll skipped (the next one tries again) rather than ending the tab's stream."""

    async def poll() -> list[tuple[str, dict[str, Any]]]:
        try:
            rows, now = await reader()
        except SQLAlchemyError:
            log.warning("dashboard health poll failed", exc_info=True)
            return []
        return [("health", view) for view in tracker.changed(rows, now)]

    return poll
