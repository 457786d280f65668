"""A ticket's signed credential and validity window (pure: no database, no clock).

The claims are the ticket's facts at issuance: ticket id, event, zone (= ticket type id, seam 5),
validity window and entries allowed. Credentials carry whole minutes, so the window is widened
outward to the minute (``valid_from`` floored, ``valid_until`` ceiled), never narrowed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocol.credential import ADMIT_EPOCH, TicketClaims
from protocol.signing import SigningKey, sign_ticket

DAY = timedelta(days=1)


def ticket_claims(
    *,
    ticket_id: int,
    event_id: int,
    ticket_type_id: int,
    valid_from: datetime | None,
    valid_until: datetime | None,
    entries_allowed: int,
    key_id: int,
) -> TicketClaims:
    return TicketClaims(
        ticket_id=ticket_id,
        event_id=event_id,
        zone=ticket_type_id,
        valid_from=_floor_minute(valid_from),
        valid_until=_ceil_minute(valid_until),
        entries=entries_allowed,
        key_id=key_id,
    )


def sign_claims(claims: TicketClaims, key: SigningKey) -> str:
    return sign_ticket(claims, key)


def validity_window(
    valid_from: datetime | None,
    valid_until: datetime | None,
    visit_date: date | None,
    timezone: str,
) -> tuple[datetime | None, datetime | None]:
    """The ticket's window: the ticket type's, narrowed to the visit day (in the site's zone)
    when the ticket is for one day."""
    if visit_date is None:
        return valid_from, valid_until
    zone = ZoneInfo(timezone)
    day_start = datetime.combine(visit_date, time.min, tzinfo=zone).astimezone(UTC)
    day_end = day_start + DAY
    start = day_start if valid_from is None else max(valid_from, day_start)
    end = day_end if valid_until is None else min(valid_until, day_end)
    return start, end


def is_within_window(
    valid_from: datetime | None, valid_until: datetime | None, now: datetime
) -> bool:
    """Half-open ``[valid_from, valid_until)``, as the credential and the kiosk judge it."""
    if valid_from is not None and now < valid_from:
        return False
    return valid_until is None or now < valid_until


def _floor_minute(moment: datetime | None) -> int:
    if moment is None:
        return 0
    seconds = int(moment.timestamp())
    floored = seconds - seconds % 60
    # Before the credential epoch the lower bound carries no information: drop it.
    return floored if floored > ADMIT_EPOCH else 0


def _ceil_minute(moment: datetime | None) -> int:
    if moment is None:
        return 0
    seconds = moment.timestamp()
    whole = int(seconds)
    if whole < seconds:
        whole += 1
    return whole + (-whole) % 60
