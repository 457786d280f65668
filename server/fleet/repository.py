"""Every SQL statement of the fleet.

Merchant-facing reads name their merchant (``scoped_select``/``get_owned``). The bridge's reads
are by MQTT identity (site slug + gate key, or broker username): the broker authenticated the
topic, and a gate's merchant comes from its row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from server.catalog.models import Event, TicketType, Venue, Zone, ticket_type_zones
from server.checkin.models import CheckinRecord, CheckinResult, CheckinSource
from server.fleet.models import (
    CatchupClaim,
    EnrollmentState,
    EnrollmentToken,
    Gate,
    GateCommand,
    GateScan,
    ListChange,
    ListEntry,
    ListName,
    PendingStaffAdmission,
    SiteList,
)
from server.sqlbatch import BatchInsert, is_postgresql, json_rows, one_of
from server.tenancy import get_owned, scoped_select

# --- catalog facts the fleet needs ------------------------------------------------------------


def get_venue(session: Session, merchant_id: int, venue_id: int) -> Venue | None:
    return get_owned(session, Venue, merchant_id, venue_id)


def venue_by_slug(session: Session, slug: str) -> Venue | None:
    return session.scalar(select(Venue).where(Venue.slug == slug))


def get_zones(session: Session, merchant_id: int, zone_ids: Sequence[int]) -> Sequence[Zone]:
    if not zone_ids:
        return []
    query = scoped_select(Zone, merchant_id).where(Zone.id.in_(zone_ids)).order_by(Zone.id)
    return session.scalars(query).all()


def venue_of_events(session: Session, event_ids: Iterable[int]) -> dict[int, Venue]:
    """Event id -> its venue."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Event.id, Venue).join(Venue, Venue.id == Event.venue_id).where(Event.id.in_(ids))
    ).all()
    return {event_id: venue for event_id, venue in rows}


def ticket_types_for_gate(
    session: Session, merchant_id: int, venue_id: int, zone_ids: Sequence[int]
) -> list[tuple[int, int]]:
    """``(ticket_type_id, event_id)`` of the venue's ticket types a gate accepts: those opening
    one of its zones, or every type of the venue's events when the gate guards no zone."""
    query = (
        select(TicketType.id, TicketType.event_id)
        .join(Event, Event.id == TicketType.event_id)
        .where(TicketType.merchant_id == merchant_id, Event.venue_id == venue_id)
    )
    if zone_ids:
        opening = select(ticket_type_zones.c.ticket_type_id).where(
            ticket_type_zones.c.zone_id.in_(zone_ids)
        )
        query = query.where(TicketType.id.in_(opening))
    return [(row[0], row[1]) for row in session.execute(query.order_by(TicketType.id)).all()]


# --- gates --------------------------------------------------------------------------------------


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def get_gate(session: Session, merchant_id: int, gate_id: int) -> Gate | None:
    return get_owned(session, Gate, merchant_id, gate_id)


def list_gates(session: Session, merchant_id: int) -> Sequence[Gate]:
    query = (
        scoped_select(Gate, merchant_id)
        .options(selectinload(Gate.venue), selectinload(Gate.zones))
        .order_by(Gate.venue_id, Gate.key)
    )
    return session.scalars(query).all()


def gate_key_taken(session: Session, venue_id: int, key: str) -> bool:
    query = select(Gate.id).where(Gate.venue_id == venue_id, Gate.key == key)
    return session.scalar(query) is not None


def gate_by_topic(session: Session, site: str, key: str) -> Gate | None:
    query = (
        select(Gate)
        .join(Venue, Venue.id == Gate.venue_id)
        .where(Venue.slug == site, Gate.key == key)
        .options(selectinload(Gate.venue))
    )
    return session.scalar(query)


def gates_by_topics(
    session: Session, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Gate]:
    """``(site slug, gate key) -> Gate`` for the pairs that exist, in one query (the bridge
    runs it for every batch: sites and keys as two lists, the pairs sorted out here)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    sites = {site for site, _ in wanted}
    keys = {key for _, key in wanted}
    query = (
        select(Gate, Venue.slug)
        .join(Venue, Venue.id == Gate.venue_id)
        .where(
            one_of(session, _VENUE_TABLE.c.slug, sites),
            one_of(session, _GATE_TABLE.c.key, keys),
        )
    )
    found = {(slug, gate.key): gate for gate, slug in session.execute(query).all()}
    return {pair: gate for pair, gate in found.items() if pair in wanted}


def gate_by_username(session: Session, username: str) -> Gate | None:
    query = select(Gate).where(Gate.mqtt_username == username).options(selectinload(Gate.venue))
    return session.scalar(query)


def enrolled_gates(session: Session) -> list[tuple[str, str, str, str]]:
    """``(username, password hash, site slug, gate key)`` of every enrolled gate (all merchants:
    the broker's files cover the whole platform)."""
    query = (
        select(Gate.mqtt_username, Gate.mqtt_password_hash, Venue.slug, Gate.key)
        .join(Venue, Venue.id == Gate.venue_id)
        .where(Gate.enrollment == EnrollmentState.ENROLLED)
        .order_by(Gate.mqtt_username)
    )
    return [
        (str(username), str(password_hash), slug, key)
        for username, password_hash, slug, key in session.execute(query).all()
        if username and password_hash
    ]


def update_gate_status(session: Session, gate_id: int, values: dict[str, Any]) -> None:
    """One UPDATE, without refreshing loaded Gate objects (callers read them before)."""
    session.execute(
        update(Gate).where(Gate.id == gate_id).values(**values),
        execution_options={"synchronize_session": False},
    )


# --- enrollment tokens --------------------------------------------------------------------------


def token_by_hash(session: Session, token_hash: str) -> EnrollmentToken | None:
    query = select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash)
    return session.scalar(query.with_for_update())


def spend_token(session: Session, token_id: int, now: datetime) -> bool:
    """Mark the token used; False when another request spent it first."""
    result = session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == token_id, EnrollmentToken.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def drop_open_tokens(session: Session, gate_id: int, now: datetime) -> None:
    session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.gate_id == gate_id, EnrollmentToken.used_at.is_(None))
        .values(used_at=now)
    )


# --- scans --------------------------------------------------------------------------------------


_SCAN_TABLE = cast(Table, GateScan.__table__)
_GATE_TABLE = cast(Table, Gate.__table__)
_VENUE_TABLE = cast(Table, Venue.__table__)


def insert_scans(session: Session, rows: Sequence[dict[str, Any]]) -> set[tuple[int, str]]:
    """Insert scans in one statement, skipping any ``(gate_id, scan_id)`` already stored;
    returns the keys that were new. ``rows`` carry aware datetimes."""
    return {(gate_id, scan_id) for gate_id, scan_id in _INSERT_SCANS.run(session, rows)}


_INSERT_SCANS = BatchInsert(
    _SCAN_TABLE, on_conflict=("gate_id", "scan_id"), returning=("gate_id", "scan_id")
)


def record_scan_progress(session: Session, progress: Sequence[dict[str, Any]]) -> None:
    """Per gate after storing its scans: ``gate_id``, ``watermark``, ``seen_at`` and
    ``last_scan_at`` (None: no new scan), for every gate of a batch in one UPDATE from the rows
    as JSON (one statement instead of one per gate). The watermark and the last scan time only
    move forward, also when two server instances store scans of one gate at once. On
    PostgreSQL the gates are first locked in id order, so concurrent transactions never
    deadlock on them (SQLite's write transaction already holds the write lock)."""
    if not progress:
        return
    connection = session.connection()
    if is_postgresql(session):
        ids = sorted(row["gate_id"] for row in progress)
        connection.execute(_LOCK_GATES, {"ids": ids})
        connection.execute(_PROGRESS_POSTGRESQL, {"rows": json_rows(session, progress)})
    else:
        connection.execute(_PROGRESS_SQLITE, {"rows": json_rows(session, progress)})


#: FOR NO KEY UPDATE, the lock the UPDATE itself takes: it does not conflict with the KEY SHARE
#: locks this batch's (and a concurrent batch's) scan INSERT holds on the gates (foreign key).
_LOCK_GATES = text("SELECT id FROM fleet_gates WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE")
#: Both forms: the watermark and the last scan time move forward only.
_PROGRESS_POSTGRESQL = text(
    "UPDATE fleet_gates SET"
    " ack_watermark = GREATEST(fleet_gates.ack_watermark, p.watermark),"
    " last_seen_at = p.seen_at,"
    " last_scan_at = CASE WHEN p.last_scan_at IS NOT NULL AND (fleet_gates.last_scan_at IS NULL"
    " OR fleet_gates.last_scan_at < p.last_scan_at) THEN p.last_scan_at"
    " ELSE fleet_gates.last_scan_at END"
    " FROM json_to_recordset(CAST(:rows AS json))"
    " AS p(gate_id integer, watermark integer, seen_at timestamptz, last_scan_at timestamptz)"
    " WHERE fleet_gates.id = p.gate_id"
)
_PROGRESS_SQLITE = text(
    "UPDATE fleet_gates SET"
    " ack_watermark = max(fleet_gates.ack_watermark, p.watermark),"
    " last_seen_at = p.seen_at,"
    " last_scan_at = CASE WHEN p.last_scan_at IS NOT NULL AND (fleet_gates.last_scan_at IS NULL"
    " OR fleet_gates.last_scan_at < p.last_scan_at) THEN p.last_scan_at"
    " ELSE fleet_gates.last_scan_at END"
    " FROM (SELECT json_extract(value, '$.gate_id') AS gate_id,"
    " json_extract(value, '$.watermark') AS watermark,"
    " json_extract(value, '$.seen_at') AS seen_at,"
    " json_extract(value, '$.last_scan_at') AS last_scan_at FROM json_each(:rows)) AS p"
    " WHERE fleet_gates.id = p.gate_id"
)


#: What the check-in stage reads of a pending scan.
_PENDING_COLUMNS = (
    GateScan.id,
    GateScan.merchant_id,
    GateScan.gate_id,
    GateScan.scan_id,
    GateScan.scanned_at,
    GateScan.received_at,
    GateScan.offline,
    GateScan.direction,
    GateScan.decision,
    GateScan.reason,
    GateScan.ticket_id,
    GateScan.code_hash,
    GateScan.annuls,
)


def pending_checkin_scans(session: Session, limit: int) -> Sequence[Any]:
    """Oldest scans still to be recorded in the check-in log (rows of ``_PENDING_COLUMNS``),
    locked: another instance's pass skips them."""
    query = (
        select(*_PENDING_COLUMNS)
        .where(GateScan.checkin_pending.is_(True))
        .order_by(GateScan.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.execute(query).all()


def clear_checkin_pending(session: Session, scan_row_ids: Sequence[int]) -> None:
    if scan_row_ids:
        session.execute(
            update(GateScan)
            .where(one_of(session, GateScan.__table__.c.id, scan_row_ids))
            .values(checkin_pending=False)
            .execution_options(synchronize_session=False)
        )


def seqs_above(session: Session, gate_id: int, watermark: int, limit: int) -> list[int]:
    query = (
        select(GateScan.seq)
        .where(GateScan.gate_id == gate_id, GateScan.seq > watermark)
        .order_by(GateScan.seq)
        .limit(limit)
    )
    return list(session.scalars(query).all())


def latest_scans(
    session: Session, merchant_id: int, *, limit: int, gate_id: int | None = None
) -> Sequence[GateScan]:
    query = scoped_select(GateScan, merchant_id)
    if gate_id is not None:
        query = query.where(GateScan.gate_id == gate_id)
    return session.scalars(query.order_by(GateScan.id.desc()).limit(limit)).all()


def count_scans(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(GateScan)) or 0)


# --- commands -----------------------------------------------------------------------------------


def command_by_command_id(session: Session, command_id: str) -> GateCommand | None:
    return session.scalar(select(GateCommand).where(GateCommand.command_id == command_id))


def list_commands(
    session: Session, merchant_id: int, gate_id: int, limit: int
) -> Sequence[GateCommand]:
    query = (
        scoped_select(GateCommand, merchant_id)
        .where(GateCommand.gate_id == gate_id)
        .order_by(GateCommand.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def last_command_sent_at(session: Session, gate_id: int, name: str) -> datetime | None:
    """When the gate was last sent a command called ``name`` (None: never)."""
    query = select(func.max(GateCommand.created_at)).where(
        GateCommand.gate_id == gate_id, GateCommand.name == name
    )
    return session.scalar(query)


# --- site lists ---------------------------------------------------------------------------------


def lock_site_list(session: Session, venue_id: int, name: ListName) -> SiteList | None:
    """The list head, locked for this transaction (SQLite holds the write lock already)."""
    query = select(SiteList).where(SiteList.venue_id == venue_id, SiteList.list == name)
    return session.scalar(query.with_for_update())


def get_site_list(session: Session, venue_id: int, name: ListName) -> SiteList | None:
    query = select(SiteList).where(SiteList.venue_id == venue_id, SiteList.list == name)
    return session.scalar(query)


def site_lists(session: Session) -> Sequence[tuple[SiteList, str]]:
    """Every list head with its site slug."""
    query = select(SiteList, Venue.slug).join(Venue, Venue.id == SiteList.venue_id)
    return [(head, slug) for head, slug in session.execute(query).all()]


def existing_entries(
    session: Session, venue_id: int, name: ListName, entries: Sequence[str]
) -> set[str]:
    if not entries:
        return set()
    query = select(ListEntry.entry).where(
        ListEntry.venue_id == venue_id, ListEntry.list == name, ListEntry.entry.in_(entries)
    )
    return set(session.scalars(query).all())


def delete_entries(session: Session, venue_id: int, name: ListName, entries: Sequence[str]) -> None:
    if not entries:
        return
    session.execute(
        delete(ListEntry).where(
            ListEntry.venue_id == venue_id, ListEntry.list == name, ListEntry.entry.in_(entries)
        )
    )


def entries_page(
    session: Session, venue_id: int, name: ListName, *, offset: int, limit: int
) -> Sequence[ListEntry]:
    query = (
        select(ListEntry)
        .where(ListEntry.venue_id == venue_id, ListEntry.list == name)
        .order_by(ListEntry.id)
        .offset(offset)
        .limit(limit)
    )
    return session.scalars(query).all()


def changes_after(
    session: Session, venue_id: int, name: ListName, version: int
) -> Sequence[ListChange]:
    query = (
        select(ListChange)
        .where(
            ListChange.venue_id == venue_id, ListChange.list == name, ListChange.version > version
        )
        .order_by(ListChange.version, ListChange.id)
    )
    return session.scalars(query).all()


# --- staff admissions gossiped to the gates ---------------------------------------------------

#: Columns of a staff check-in as the gates hear it (rows of :func:`staff_checkins`).
_STAFF_COLUMNS = (
    CheckinRecord.id,
    CheckinRecord.ticket_id,
    CheckinRecord.direction,
    CheckinRecord.scanned_at,
    Venue.id.label("venue_id"),
    Venue.slug,
)


def _staff_admitted() -> tuple[Any, ...]:
    """Admitted check-ins of a ticket by staff (a gate's own admissions are its gossip)."""
    return (
        CheckinRecord.result == CheckinResult.ADMITTED,
        CheckinRecord.source != CheckinSource.GATE,
        CheckinRecord.ticket_id.is_not(None),
    )


def add_pending_staff_admissions(session: Session, rows: Sequence[tuple[int, int, int]]) -> None:
    """Queue ``(merchant id, check-in record id, event id)`` for the bridge when the event's
    venue has an enrolled gate (a venue without gates has nobody to tell, and a gate enrolled
    later reads the check-in log instead); a record queued before (the same check-in reported
    twice) is skipped. One statement per check-in, the gate test included."""
    if not rows:
        return
    statement = _QUEUE_STAFF_ADMISSION[is_postgresql(session)]
    values = [
        {"merchant_id": merchant, "record_id": record, "event_id": event}
        for merchant, record, event in rows
    ]
    # A Core statement (not the ORM's bulk-insert path, which cost more than the round trip).
    session.connection().execute(statement, values[0] if len(values) == 1 else values)


def _queue_staff_admission(dialect: Any) -> Any:
    table = cast(Table, PendingStaffAdmission.__table__)
    gates = cast(Table, Gate.__table__)
    events = cast(Table, Event.__table__)
    enrolled_gate_at_the_venue = (
        select(gates.c.id)
        .join(events, events.c.venue_id == gates.c.venue_id)
        .where(
            events.c.id == bindparam("event_id"),
            gates.c.enrollment == EnrollmentState.ENROLLED.value,
        )
        .exists()
    )
    source = select(
        bindparam("merchant_id", type_=Integer), bindparam("record_id", type_=Integer)
    ).where(enrolled_gate_at_the_venue)
    return (
        dialect.insert(table)
        .from_select([table.c.merchant_id, table.c.checkin_record_id], source)
        .on_conflict_do_nothing(index_elements=[table.c.checkin_record_id])
    )


#: By "is PostgreSQL": the statement built once per dialect.
_QUEUE_STAFF_ADMISSION = {
    True: _queue_staff_admission(postgresql),
    False: _queue_staff_admission(sqlite),
}


def take_pending_staff_admissions(session: Session, limit: int) -> Sequence[Any]:
    """The oldest queued staff check-ins as ``(outbox id, record id)``, locked: another
    bridge's pass skips them."""
    query = (
        select(PendingStaffAdmission.id, PendingStaffAdmission.checkin_record_id)
        .order_by(PendingStaffAdmission.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.execute(query).all()


def delete_pending_staff_admissions(session: Session, outbox_ids: Sequence[int]) -> None:
    if outbox_ids:
        session.execute(
            delete(PendingStaffAdmission)
            .where(one_of(session, PendingStaffAdmission.__table__.c.id, outbox_ids))
            .execution_options(synchronize_session=False)
        )


def staff_checkins(session: Session, record_ids: Sequence[int]) -> Sequence[Any]:
    """The staff check-ins ``record_ids`` (rows of ``_STAFF_COLUMNS``), with their site."""
    if not record_ids:
        return []
    query = (
        select(*_STAFF_COLUMNS)
        .join(Event, Event.id == CheckinRecord.event_id)
        .join(Venue, Venue.id == Event.venue_id)
        .where(one_of(session, CheckinRecord.__table__.c.id, record_ids), *_staff_admitted())
    )
    return session.execute(query).all()


def staff_checkins_at_venue(
    session: Session,
    venue_id: int,
    ending_after: datetime,
    *,
    after_id: int = 0,
    limit: int | None = None,
) -> Sequence[Any]:
    """The staff check-ins for the venue's events that end after ``ending_after`` whose record
    id is above ``after_id``, in id order (at most ``limit``)."""
    query = (
        select(*_STAFF_COLUMNS)
        .join(Event, Event.id == CheckinRecord.event_id)
        .join(Venue, Venue.id == Event.venue_id)
        .where(
            _venue_events(venue_id, ending_after),
            CheckinRecord.id > after_id,
            *_staff_admitted(),
        )
        .order_by(CheckinRecord.id)
        .limit(limit)
    )
    return session.execute(query).all()


def _venue_events(venue_id: int, ending_after: datetime) -> ColumnElement[bool]:
    """The record is for one of the venue's events that end after ``ending_after``: a
    subquery on the events, so the log is read through its ``event_id`` index."""
    events = select(Event.id).where(Event.venue_id == venue_id, Event.ends_at > ending_after)
    return CheckinRecord.event_id.in_(events.scalar_subquery())


def last_staff_checkin_at_venue(
    session: Session, venue_id: int, ending_after: datetime, *, below: int | None = None
) -> int:
    """The highest record id of a staff check-in for the venue's events that end after
    ``ending_after`` (below ``below`` when given); 0 when there is none."""
    query = select(func.max(CheckinRecord.id)).where(
        _venue_events(venue_id, ending_after), *_staff_admitted()
    )
    if below is not None:
        query = query.where(CheckinRecord.id < below)
    return int(session.scalar(query) or 0)


def staff_outbox(session: Session) -> tuple[int, datetime | None]:
    """How many staff check-ins wait in the outbox, and when the oldest was stored."""
    query = (
        select(func.count(), func.min(CheckinRecord.received_at))
        .select_from(PendingStaffAdmission)
        .join(CheckinRecord, CheckinRecord.id == PendingStaffAdmission.checkin_record_id)
    )
    depth, oldest = session.execute(query).one()
    return int(depth), oldest


def staff_entries_by_ticket(session: Session, ticket_ids: Sequence[int]) -> dict[int, int]:
    """How many entries staff admitted, per ticket (exits do not count)."""
    if not ticket_ids:
        return {}
    query = (
        select(CheckinRecord.ticket_id, func.count())
        .where(
            one_of(session, CheckinRecord.__table__.c.ticket_id, ticket_ids),
            CheckinRecord.entry_no.is_not(None),
            *_staff_admitted(),
        )
        .group_by(CheckinRecord.ticket_id)
    )
    rows: Sequence[Any] = session.execute(query).all()
    return {row[0]: row[1] for row in rows}


def claim_catchups(
    session: Session, gates: Sequence[Gate], owner: str, now: datetime, expired_before: datetime
) -> set[int]:
    """Claim answering ``gates``' catch-ups for ``owner``: the ids of those it holds now (it
    held them already, nobody did, or the holder's claim dates from before ``expired_before``).
    In gate id order, so concurrent instances lock the claims in one order; on PostgreSQL a
    claim being taken by another open transaction is waited for, then found taken."""
    if not gates:
        return set()
    table = cast(Table, CatchupClaim.__table__)
    dialect = postgresql if is_postgresql(session) else sqlite
    rows = [
        {"gate_id": gate.id, "merchant_id": gate.merchant_id, "owner": owner, "claimed_at": now}
        for gate in sorted(gates, key=lambda gate: gate.id)
    ]
    statement = dialect.insert(table).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.gate_id],
        set_={"owner": statement.excluded.owner, "claimed_at": statement.excluded.claimed_at},
        where=or_(table.c.owner == owner, table.c.claimed_at < expired_before),
    ).returning(table.c.gate_id)
    return set(session.execute(statement).scalars().all())
