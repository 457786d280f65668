"""Per-site allowlists and revocation lists: the versioned change log and its messages.

Tickets announce issuance and revocation through :mod:`server.signals`; the receivers here run
inside the sender's transaction and append one version per list change to the site's log
(``fleet_list_changes``), keep the current entries (``fleet_list_entries``) and the head
(version, ListDigest, count). After the commit they wake the bridge's publisher
(:data:`list_changes`), which turns new versions into ``list_update`` deltas and a retained
``list_announce``. Snapshots (enrollment, resync, the HTTP endpoint) read the current entries.

Entries: the allowlist holds ``protocol.allowlist.hash_code(ticket.code, merchant salt)`` with
ticket facts as meta (``ticket_id``, ``event_id``, ``zone`` = ticket type id, ``entries``); the
revocation list holds revoked ticket ids in decimal.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.allowlist import ListDigest, hash_code
from protocol.messages import ListAnnounce, ListUpdate
from server import signals
from server.clock import utc_now
from server.fleet import repository as repo
from server.fleet.hooks import after_commit
from server.fleet.models import ListChange, ListEntry, ListName, SiteList
from server.tickets.keys import code_salt_for_merchant

EMPTY_DIGEST = ListDigest().hex()


class ListChangeNotifier:
    """Wakes the list publisher when a transaction that changed a list has committed."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


list_changes = ListChangeNotifier()


@dataclass(frozen=True)
class AppliedVersion:
    venue_id: int
    list: ListName
    version: int
    digest: str


def _head(session: Session, merchant_id: int, venue_id: int, name: ListName) -> SiteList:
    head = repo.lock_site_list(session, venue_id, name)
    if head is not None:
        return head
    try:
        with session.begin_nested():
            head = SiteList(
                merchant_id=merchant_id,
                venue_id=venue_id,
                list=name,
                version=0,
                digest=EMPTY_DIGEST,
                count=0,
            )
            repo.add(session, head)
        return head
    except IntegrityError:
        locked = repo.lock_site_list(session, venue_id, name)
        assert locked is not None
        return locked


def apply_change(
    session: Session,
    *,
    merchant_id: int,
    venue_id: int,
    name: ListName,
    add: Mapping[str, dict[str, Any] | None],
    remove: Sequence[str],
    scope: int | None,
    now: datetime,
) -> AppliedVersion | None:
    """Append one version to the site's list, or nothing when the change changes nothing
    (entries already present, or absent for removal). Runs in the caller's transaction."""
    head = _head(session, merchant_id, venue_id, name)
    present = repo.existing_entries(session, venue_id, name, [*add, *remove])
    adding = {entry: meta for entry, meta in add.items() if entry not in present}
    removing = sorted({entry for entry in remove if entry in present and entry not in add})
    if not adding and not removing:
        return None
    digest = ListDigest.from_hex(head.digest)
    for entry in adding:
        digest.add(entry)
    for entry in removing:
        digest.remove(entry)
    version = head.version + 1
    digest_hex = digest.hex()
    repo.delete_entries(session, venue_id, name, removing)
    for entry, meta in adding.items():
        session.add(
            ListEntry(merchant_id=merchant_id, venue_id=venue_id, list=name, entry=entry, meta=meta)
        )
    for op, entries in (("add", list(adding)), ("remove", removing)):
        for entry in entries:
            session.add(
                ListChange(
                    merchant_id=merchant_id,
                    venue_id=venue_id,
                    list=name,
                    version=version,
                    op=op,
                    entry=entry,
                    meta=adding.get(entry) if op == "add" else None,
                    scope=scope,
                    digest=digest_hex,
                    created_at=now,
                )
            )
    head.version = version
    head.digest = digest_hex
    head.count = head.count + len(adding) - len(removing)
    session.flush()
    after_commit(session, list_changes.notify)
    return AppliedVersion(venue_id, name, version, digest_hex)


# --- signal receivers (seam 2) -----------------------------------------------------------------


def _single_event(tickets: Sequence[Any]) -> int | None:
    events = {ticket.event_id for ticket in tickets}
    return next(iter(events)) if len(events) == 1 else None


def _by_venue(session: Session, tickets: Sequence[Any]) -> dict[int, list[Any]]:
    venues = repo.venue_of_events(session, (ticket.event_id for ticket in tickets))
    grouped: dict[int, list[Any]] = defaultdict(list)
    for ticket in tickets:
        venue = venues.get(ticket.event_id)
        if venue is not None:
            grouped[venue.id].append(ticket)
    return grouped


def ticket_meta(ticket: Any) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "event_id": ticket.event_id,
        "zone": ticket.ticket_type_id,
        "entries": ticket.entries_allowed,
    }


def on_tickets_issued(session: Session, tickets: Sequence[Any]) -> None:
    """Add the new tickets' code hashes to their sites' allowlists."""
    now = _now()
    for venue_id, group in _by_venue(session, tickets).items():
        merchant_id = group[0].merchant_id
        salt = code_salt_for_merchant(session, merchant_id, now)
        apply_change(
            session,
            merchant_id=merchant_id,
            venue_id=venue_id,
            name=ListName.ALLOWLIST,
            add={hash_code(ticket.code, salt): ticket_meta(ticket) for ticket in group},
            remove=[],
            scope=_single_event(group),
            now=now,
        )


def on_tickets_revoked(session: Session, tickets: Sequence[Any]) -> None:
    """Revoke the tickets' ids and drop their code hashes from their sites' allowlists."""
    now = _now()
    for venue_id, group in _by_venue(session, tickets).items():
        merchant_id = group[0].merchant_id
        salt = code_salt_for_merchant(session, merchant_id, now)
        scope = _single_event(group)
        apply_change(
            session,
            merchant_id=merchant_id,
            venue_id=venue_id,
            name=ListName.REVOCATIONS,
            add={str(ticket.id): None for ticket in group},
            remove=[],
            scope=scope,
            now=now,
        )
        apply_change(
            session,
            merchant_id=merchant_id,
            venue_id=venue_id,
            name=ListName.ALLOWLIST,
            add={},
            remove=[hash_code(ticket.code, salt) for ticket in group],
            scope=scope,
            now=now,
        )


def _now() -> datetime:
    # Signals carry no clock; the log's created_at is informational (versions order it).
    return utc_now()


def connect_receivers() -> None:
    """Connect the list receivers to the ticket signals (idempotent)."""
    signals.tickets_issued.connect(on_tickets_issued)
    signals.tickets_revoked.connect(on_tickets_revoked)


# --- messages -----------------------------------------------------------------------------------


def snapshot_messages(
    session: Session,
    *,
    site: str,
    venue_id: int,
    name: ListName,
    chunk_size: int,
    ts: int,
) -> list[ListUpdate]:
    """The whole current list as snapshot chunks (none while the list is at version 0)."""
    head = repo.lock_site_list(session, venue_id, name)
    if head is None or head.version == 0:
        return []
    entries = list(repo.entries_page(session, venue_id, name, offset=0, limit=head.count + 1))
    chunks = max(1, -(-len(entries) // chunk_size))
    return [
        snapshot_chunk(
            site, head, entries[index * chunk_size : (index + 1) * chunk_size], index, chunks, ts
        )
        for index in range(chunks)
    ]


def snapshot_chunk(
    site: str, head: SiteList, entries: Sequence[ListEntry], chunk: int, chunks: int, ts: int
) -> ListUpdate:
    meta: dict[str, object] = {row.entry: row.meta for row in entries if row.meta is not None}
    return ListUpdate(
        list=head.list.value,
        site=site,
        scope=None,
        snapshot=True,
        from_version=0,
        to_version=head.version,
        add=[row.entry for row in entries],
        remove=[],
        digest=head.digest,
        chunk=chunk,
        chunks=chunks,
        meta=meta or None,
        ts=ts,
    )


def delta_messages(
    changes: Sequence[ListChange], *, site: str, name: ListName, ts: int
) -> list[ListUpdate]:
    """One delta per version in ``changes`` (rows ordered by version)."""
    by_version: dict[int, list[ListChange]] = defaultdict(list)
    for change in changes:
        by_version[change.version].append(change)
    messages: list[ListUpdate] = []
    for version in sorted(by_version):
        rows = by_version[version]
        added = [row for row in rows if row.op == "add"]
        meta: dict[str, object] = {row.entry: row.meta for row in added if row.meta is not None}
        messages.append(
            ListUpdate(
                list=name.value,
                site=site,
                scope=rows[0].scope,
                snapshot=False,
                from_version=version - 1,
                to_version=version,
                add=[row.entry for row in added],
                remove=[row.entry for row in rows if row.op == "remove"],
                digest=rows[0].digest,
                chunk=0,
                chunks=1,
                meta=meta or None,
                ts=ts,
            )
        )
    return messages


def announce_message(site: str, heads: Mapping[ListName, SiteList | None], ts: int) -> ListAnnounce:
    allow = heads.get(ListName.ALLOWLIST)
    revoked = heads.get(ListName.REVOCATIONS)
    return ListAnnounce(
        site=site,
        allowlist_version=allow.version if allow else 0,
        allowlist_digest=allow.digest if allow else EMPTY_DIGEST,
        revocations_version=revoked.version if revoked else 0,
        revocations_digest=revoked.digest if revoked else EMPTY_DIGEST,
        ts=ts,
    )


def snapshot_page(
    session: Session,
    *,
    site: str,
    venue_id: int,
    name: ListName,
    chunk: int,
    chunk_size: int,
    ts: int,
) -> ListUpdate | None:
    """Chunk ``chunk`` of the current list (HTTP catch-up), or None when the list is empty at
    version 0 or the chunk is past the end. Every chunk names the version and digest it belongs
    to: a kiosk that sees them change between chunks starts again."""
    head = repo.lock_site_list(session, venue_id, name)
    if head is None or head.version == 0:
        return None
    chunks = max(1, -(-head.count // chunk_size))
    if chunk >= chunks:
        return None
    entries = repo.entries_page(
        session, venue_id, name, offset=chunk * chunk_size, limit=chunk_size
    )
    return snapshot_chunk(site, head, entries, chunk, chunks, ts)
