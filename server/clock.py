"""The server's clock, passed in rather than read from ``datetime.now`` inside rules.

The app keeps one clock in ``app.state.clock``; endpoints take :data:`Now` and hand the
current time to services. Tests replace it with a :class:`ManualClock` to move time on without
sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 1, 1, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def get_now(request: Request) -> datetime:
    """The current time from the app's clock (one reading per request). ``async`` because reading
    a clock never blocks: FastAPI calls it on the event loop instead of handing it to a worker
    thread (a thread-pool round trip per request for a function call)."""
    clock: Clock = request.app.state.clock
    return clock()


#: The time "now" for this request, from the app's clock.
Now = Annotated[datetime, Depends(get_now)]
