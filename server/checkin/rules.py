"""Whether a ticket may enter now: pure rules over the ticket's facts (no I/O, clock passed in).

The database has the last word on the allowance (see :mod:`server.checkin.models`); these rules
say which reason a refusal carries.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from protocol import reasons
from server.tickets.models import TicketStatus


@dataclass(frozen=True)
class TicketFacts:
    event_id: int
    status: TicketStatus
    valid_from: datetime | None
    valid_until: datetime | None
    #: 0 means unlimited.
    entries_allowed: int
    entries_in_use: int


def entry_refusal(
    facts: TicketFacts,
    at: datetime,
    *,
    event_id: int | None = None,
    allowed_events: Collection[int] | None = None,
) -> str | None:
    """The reason code refusing an entry at ``at``, or None when the ticket may enter.

    ``event_id`` is the event the checker is checking for (None: any); ``allowed_events`` the
    events a restricted checker may check (None: unrestricted).
    """
    if facts.status is TicketStatus.REVOKED:
        return reasons.REVOKED
    if event_id is not None and facts.event_id != event_id:
        return reasons.WRONG_EVENT
    if allowed_events is not None and facts.event_id not in allowed_events:
        return reasons.WRONG_EVENT
    if facts.valid_from is not None and at < facts.valid_from:
        return reasons.NOT_YET_VALID
    if facts.valid_until is not None and at >= facts.valid_until:
        return reasons.EXPIRED
    if facts.entries_allowed and facts.entries_in_use >= facts.entries_allowed:
        return reasons.ALREADY_USED
    return None


def exit_refusal(
    facts: TicketFacts,
    *,
    event_id: int | None = None,
    allowed_events: Collection[int] | None = None,
) -> str | None:
    """Exits are always let through for a known ticket of the right event."""
    if event_id is not None and facts.event_id != event_id:
        return reasons.WRONG_EVENT
    if allowed_events is not None and facts.event_id not in allowed_events:
        return reasons.WRONG_EVENT
    return None
