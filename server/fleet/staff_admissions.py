"""Staff check-ins told to the gates, so a gate refuses a ticket already let in by a checker or
at the box office.

Gates hear each other's admissions as ``admission`` gossip and count them with their own
(:mod:`kiosk.passback`). The server joins that conversation as one more peer, the pseudo-gate
``protocol.topics.STAFF_GATE`` (``_staff``): every admitted check-in by staff (a checker's app,
the back office) becomes an ``admission`` on ``<root>/v1/<site>/gates/_staff/admissions``,
which every gate of the site already subscribes to. Gate check-ins are not repeated: the gate
that admitted has gossiped them itself.

Nothing is lost on the way:

1. :data:`server.signals.staff_checked_in` runs inside the check-in's transaction; the receiver
   here queues the record in ``fleet_pending_staff_admissions`` (the outbox) when the event's
   venue has an enrolled gate (one statement; a venue without gates, checked by handhelds
   only, queues nothing that no bridge would ever drain) and wakes the bridge after the commit;
2. the bridge's list thread (:meth:`server.fleet.bridge.FleetBridge.publish_staff_admissions`)
   takes queued rows (locked, so several bridges split them), publishes them at QoS 1 and
   deletes them in the same transaction: a failed commit publishes again, which gates ignore
   (their gossip ledger is idempotent);
3. a gate that was offline gets the messages from its persistent broker session; a gate that
   enrolls later gets the staff check-ins of its site's current events in its enrollment answer
   (``admissions``, :func:`enrollment_admissions`).

``entries_used`` is the ticket's count of staff entries when the message is built, the same on
every message of that ticket: a gate keeps the highest count a peer reported, so a check-in
that reaches the server late (an offline checker app syncing) can only raise it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from protocol.messages import Admission, encode, ticket_key_for_ticket
from protocol.topics import STAFF_GATE, Topics
from server import signals
from server.fleet import lists
from server.fleet import repository as repo
from server.fleet.hooks import after_commit

#: Staff check-ins of events that ended longer ago than this are not sent to enrolling gates.
ENROLLMENT_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StaffCheckin:
    """An admitted check-in by staff, as the gates hear it."""

    record_id: int
    ticket_id: int
    direction: str
    scanned_at: datetime
    site: str


def admission_messages(
    checkins: Sequence[StaffCheckin], entries: Mapping[int, int], ts: int
) -> list[tuple[str, Admission]]:
    """``(site, admission)`` per check-in; ``entries`` is the staff entry count per ticket."""
    return [
        (
            checkin.site,
            Admission(
                gate=STAFF_GATE,
                ticket_key=ticket_key_for_ticket(checkin.ticket_id),
                direction=checkin.direction,
                at=int(checkin.scanned_at.timestamp() * 1000),
                entries_used=entries.get(checkin.ticket_id, 0),
                ts=ts,
            ),
        )
        for checkin in checkins
    ]


def _checkins(rows: Sequence[Any]) -> list[StaffCheckin]:
    return [
        StaffCheckin(
            record_id=row.id,
            ticket_id=row.ticket_id,
            direction=str(row.direction),
            scanned_at=row.scanned_at,
            site=row.slug,
        )
        for row in rows
    ]


def _with_entries(
    session: Session, checkins: list[StaffCheckin], ts: int
) -> list[tuple[str, Admission]]:
    tickets = sorted({checkin.ticket_id for checkin in checkins})
    return admission_messages(checkins, repo.staff_entries_by_ticket(session, tickets), ts)


def queue_staff_checkins(session: Session, records: Sequence[Any]) -> None:
    """Receiver of :data:`server.signals.staff_checked_in`: queue the admitted check-ins for
    the bridge and wake it after the commit."""
    rows = [(record.merchant_id, record.id, record.event_id) for record in records]
    if rows:
        repo.add_pending_staff_admissions(session, rows)
        after_commit(session, lists.list_changes.notify)


def connect_receivers() -> None:
    """Queue staff check-ins for the gates (idempotent; done when the fleet feature loads)."""
    signals.staff_checked_in.connect(queue_staff_checkins)


def publish_pending(
    session: Session,
    publish: Callable[[str, bytes], None],
    *,
    root: str,
    ts: int,
    limit: int,
) -> int:
    """Publish up to ``limit`` queued staff check-ins, oldest first, and unqueue them; returns
    how many were taken from the queue."""
    pending = repo.take_pending_staff_admissions(session, limit)
    if not pending:
        return 0
    checkins = _checkins(repo.staff_checkins(session, [row.checkin_record_id for row in pending]))
    checkins.sort(key=lambda checkin: (checkin.scanned_at, checkin.record_id))
    for site, admission in _with_entries(session, checkins, ts):
        publish(Topics(site, root).admissions(STAFF_GATE), encode(admission))
    repo.delete_pending_staff_admissions(session, [row.id for row in pending])
    return len(pending)


def enrollment_admissions(
    session: Session, venue_id: int, now: datetime
) -> list[dict[str, object]]:
    """The staff check-ins a gate enrolling at the venue should know: those of events that have
    not ended (or ended within ``ENROLLMENT_LOOKBACK``), as ``admission`` dicts, oldest first."""
    checkins = _checkins(repo.staff_checkins_at_venue(session, venue_id, now - ENROLLMENT_LOOKBACK))
    ts = int(now.timestamp() * 1000)
    return [admission.to_dict() for _, admission in _with_entries(session, checkins, ts)]
