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
   (``admissions``, :func:`enrollment_admissions`);
4. a gate that missed some anyway (its broker session expired, a broker restarted without
   persistence) says so in its status, and the bridge's catch-up resends them to that gate
   alone (:func:`resend_admissions`, called by :mod:`server.fleet.catchup`).

Every message is numbered so a gate can tell what it lacks: ``seq`` is the check-in record's id
(increasing) and ``prev`` the ``seq`` of the site's staff check-in before it, so a site's
messages form a chain (0 before the first). The site's staff check-ins here are those of its
events that have not ended or ended within ``ENROLLMENT_LOOKBACK`` (:func:`site_window`): what
an enrolling gate is told, what a gate behind is resent, and where a live message's ``prev``
is looked up. A gate keeps ``staff_seq``, the end of the chain it holds without a hole, and
reports it in its status.

``entries_used`` is the ticket's count of staff entries when the message is built, the same on
every message of that ticket: a gate keeps the highest count a peer reported, so a check-in
that reaches the server late (an offline checker app syncing) can only raise it.

Record ids are taken when a check-in is inserted, not when it commits. Were two staff
admissions to commit in the other order on PostgreSQL, the later one could be gossiped first
with a ``prev`` that skips the earlier one, and a gate that lost the earlier one with its
session would hold a ``staff_seq`` past it and never be resent it. So a staff check-in takes
its merchant's turn before it claims the ticket and holds it until the commit
(:func:`server.checkin.repository.hold_staff_admission_order`): a merchant's staff admissions
commit in record id order. SQLite's writers take turns anyway.
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

#: Staff check-ins of events that ended longer ago than this are not sent to enrolling gates,
#: nor resent to gates behind.
ENROLLMENT_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StaffCheckin:
    """An admitted check-in by staff, as the gates hear it."""

    record_id: int
    ticket_id: int
    direction: str
    scanned_at: datetime
    venue_id: int
    site: str


def site_window(now: datetime) -> datetime:
    """A site's staff check-ins, for the gates, are those of events ending after this."""
    return now - ENROLLMENT_LOOKBACK


def admission_messages(
    checkins: Sequence[StaffCheckin],
    entries: Mapping[int, int],
    ts: int,
    first_prev: Mapping[int, int],
) -> list[tuple[str, Admission]]:
    """``(site, admission)`` per check-in, in the order given; ``entries`` is the staff entry
    count per ticket. Each message's ``prev`` is the record id of the venue's check-in before
    it in ``checkins``, for the venue's first one ``first_prev[venue]`` (0 when absent)."""
    previous = dict(first_prev)
    found = []
    for checkin in checkins:
        admission = Admission(
            gate=STAFF_GATE,
            ticket_key=ticket_key_for_ticket(checkin.ticket_id),
            direction=checkin.direction,
            at=int(checkin.scanned_at.timestamp() * 1000),
            entries_used=entries.get(checkin.ticket_id, 0),
            ts=ts,
            seq=checkin.record_id,
            prev=min(previous.get(checkin.venue_id, 0), checkin.record_id - 1),
        )
        previous[checkin.venue_id] = checkin.record_id
        found.append((checkin.site, admission))
    return found


def _checkins(rows: Sequence[Any]) -> list[StaffCheckin]:
    return [
        StaffCheckin(
            record_id=row.id,
            ticket_id=row.ticket_id,
            direction=str(row.direction),
            scanned_at=row.scanned_at,
            venue_id=row.venue_id,
            site=row.slug,
        )
        for row in rows
    ]


def _with_entries(
    session: Session, checkins: list[StaffCheckin], ts: int, first_prev: Mapping[int, int]
) -> list[tuple[str, Admission]]:
    tickets = sorted({checkin.ticket_id for checkin in checkins})
    entries = repo.staff_entries_by_ticket(session, tickets)
    return admission_messages(checkins, entries, ts, first_prev)


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
    now: datetime,
    limit: int,
) -> int:
    """Publish up to ``limit`` queued staff check-ins in record id order, each ``prev`` the
    site's staff check-in before it, and unqueue them; returns how many were taken from the
    queue."""
    pending = repo.take_pending_staff_admissions(session, limit)
    if not pending:
        return 0
    checkins = _checkins(repo.staff_checkins(session, [row.checkin_record_id for row in pending]))
    checkins.sort(key=lambda checkin: checkin.record_id)
    first: dict[int, int] = {}
    for checkin in checkins:
        first.setdefault(checkin.venue_id, checkin.record_id)
    window = site_window(now)
    first_prev = {
        venue_id: repo.last_staff_checkin_at_venue(session, venue_id, window, below=record_id)
        for venue_id, record_id in first.items()
    }
    ts = int(now.timestamp() * 1000)
    for site, admission in _with_entries(session, checkins, ts, first_prev):
        publish(Topics(site, root).admissions(STAFF_GATE), encode(admission))
    repo.delete_pending_staff_admissions(session, [row.id for row in pending])
    return len(pending)


def enrollment_admissions(
    session: Session, venue_id: int, now: datetime
) -> list[dict[str, object]]:
    """The staff check-ins a gate enrolling at the venue should know: those of events that have
    not ended (or ended within ``ENROLLMENT_LOOKBACK``), as ``admission`` dicts in ``seq``
    order, chained from 0."""
    checkins = _checkins(repo.staff_checkins_at_venue(session, venue_id, site_window(now)))
    ts = int(now.timestamp() * 1000)
    return [admission.to_dict() for _, admission in _with_entries(session, checkins, ts, {})]


def newest_seq(session: Session, venue_id: int, now: datetime) -> int:
    """The ``seq`` of the venue's newest staff check-in for the gates (0: none)."""
    return repo.last_staff_checkin_at_venue(session, venue_id, site_window(now))


def resend_admissions(
    session: Session, venue_id: int, *, after: int, now: datetime, limit: int
) -> list[Admission]:
    """The venue's staff check-ins after ``after`` (a gate's ``staff_seq``), oldest first, at
    most ``limit``, chained from ``after``: what a gate behind is resent."""
    rows = repo.staff_checkins_at_venue(
        session, venue_id, site_window(now), after_id=after, limit=limit
    )
    ts = int(now.timestamp() * 1000)
    checkins = _checkins(rows)
    return [admission for _, admission in _with_entries(session, checkins, ts, {venue_id: after})]


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """The staff-admissions outbox: rows waiting for a bridge, and how long the oldest has."""

    depth: int
    oldest_age_s: float | None


def outbox_health(session: Session, now: datetime) -> OutboxHealth:
    """Depth and age of the outbox: one that keeps growing means no bridge runs."""
    depth, oldest = repo.staff_outbox(session)
    age = None if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return OutboxHealth(depth, age)
