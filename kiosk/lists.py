"""Applying the server's allowlist and revocation updates to the kiosk store.

One version counter per list ("allowlist": hashed 12-digit codes with their ticket facts;
"revocations": ticket ids in decimal). ``apply_update(store, update)`` takes a
``protocol.messages.ListUpdate`` and returns an ``ApplyResult`` the link reports on the result
topic:

- a delta applies only when ``from_version`` equals the kiosk's version (``to_version`` at or
  below it: ``duplicate``; anything else: ``gap``, ask for a resync). It is applied in one
  transaction while the ListDigest is updated entry by entry; the digest is compared BEFORE the
  commit and a mismatch rolls everything back (``digest_mismatch``);
- a snapshot older than the list held is a ``duplicate``, unless the site's announce names
  exactly its version and digest (:func:`may_roll_back`: the server's database was restored
  and its lists went back; the kiosk follows rather than ignore every update until the
  server's versions pass its own);
- a snapshot arrives in chunks. Each chunk is staged durably (``staged``), so an interrupted
  resync resumes with the missing chunks (``missing_chunks``). When the last chunk is in, the
  staged list's digest (summed as chunks arrive) is checked and the staged table is swapped in
  by renaming tables inside one transaction: readers see the old list or the new one, never a
  mix. A mismatch discards the staged chunks and leaves the live list untouched;
- ``malformed``: entries or meta the kiosk cannot store (a revocation that is not a ticket id,
  a ticket fact that is not a whole number, a digest that is not 64 hex digits).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kiosk.store import KioskStore
from protocol.allowlist import ListDigest
from protocol.messages import ListUpdate

_FACTS = ("ticket_id", "event_id", "zone", "entries")
_MAX_FACT = 2**63 - 1


class Outcome(StrEnum):
    APPLIED = "applied"
    STAGED = "staged"
    DUPLICATE = "duplicate"
    GAP = "gap"
    DIGEST_MISMATCH = "digest_mismatch"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """``version``: the kiosk's list version after the call; ``missing_chunks``: for a
    snapshot still being staged, the chunk indexes not received yet."""

    outcome: Outcome
    list: str
    version: int
    detail: str = ""
    missing_chunks: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """False when the server should hear of a problem (gap, mismatch, malformed)."""
        return self.outcome in (Outcome.APPLIED, Outcome.STAGED, Outcome.DUPLICATE)


@dataclass(frozen=True, slots=True)
class ListAudit:
    """What the ``audit`` command reports for comparison with the server's list."""

    list: str
    version: int
    digest: str
    count: int


@dataclass(frozen=True, slots=True)
class _Tables:
    list_name: str
    live: str
    staging: str
    key: str
    columns: tuple[str, ...]


_TABLES = {
    "allowlist": _Tables(
        "allowlist", "allowlist", "allowlist_staging", "entry", ("entry", "scope", *_FACTS)
    ),
    "revocations": _Tables(
        "revocations", "revocations", "revocations_staging", "ticket_id", ("ticket_id", "scope")
    ),
}


class _DigestMismatch(Exception):
    def __init__(self, computed: str) -> None:
        self.computed = computed


def may_roll_back(update: ListUpdate, held_version: int, site_head: tuple[int, str] | None) -> bool:
    """Whether a snapshot older than the list held replaces it: only when the site's latest
    ``list_announce`` names exactly that version and digest, i.e. the server's list itself went
    back (its database was restored from a backup). A stale snapshot overtaken by newer updates
    never matches the announce, so it stays a duplicate. Pure."""
    return (
        update.snapshot
        and update.to_version < held_version
        and site_head == (update.to_version, update.digest)
    )


def apply_update(
    store: KioskStore, update: ListUpdate, *, allow_rollback: bool = False
) -> ApplyResult:
    """Apply one delta or snapshot chunk (see the module docstring). Never half-applies.
    ``allow_rollback``: a snapshot older than the list held replaces it (see
    :func:`may_roll_back`); otherwise it is a duplicate."""
    tables = _TABLES[update.list]
    try:
        rows = _rows(update)
        ListDigest.from_hex(update.digest)
    except ValueError as exc:
        current = store.list_version(update.list).version
        return ApplyResult(Outcome.MALFORMED, update.list, current, str(exc))
    if update.snapshot:
        return _apply_chunk(store, tables, update, rows, allow_rollback)
    return _apply_delta(store, tables, update, rows)


def missing_chunks(store: KioskStore, list_name: str) -> tuple[int, ...]:
    """Chunks of the snapshot being staged that have not arrived ((): none being staged)."""
    with store.transaction() as conn:
        return _missing(conn, list_name)


def discard_staging(store: KioskStore, list_name: str) -> None:
    """Drop a partly staged snapshot (e.g. before asking for a fresh resync)."""
    with store.transaction() as conn:
        _clear_staging(conn, _TABLES[list_name])


def audit(store: KioskStore, list_name: str, recount: bool = False) -> ListAudit:
    """The list's version, digest and entry count. ``recount`` recomputes digest and count
    from the stored entries instead of the incrementally kept ones (slower: reads the list)."""
    current = store.list_version(list_name)
    if not recount:
        return ListAudit(list_name, current.version, current.digest, current.count)
    tables = _TABLES[list_name]
    with store.transaction() as conn:
        digest = ListDigest()
        count = 0
        for (entry,) in conn.execute(f"SELECT {tables.key} FROM {tables.live}"):
            digest.add(entry)
            count += 1
    return ListAudit(list_name, current.version, digest.hex(), count)


def _apply_delta(
    store: KioskStore, tables: _Tables, update: ListUpdate, rows: list[tuple[object, ...]]
) -> ApplyResult:
    try:
        with store.transaction() as conn:
            version, digest_hex, count = _version(conn, update.list)
            if update.to_version <= version:
                return ApplyResult(Outcome.DUPLICATE, update.list, version, "already applied")
            if update.from_version != version:
                return ApplyResult(
                    Outcome.GAP,
                    update.list,
                    version,
                    f"delta from {update.from_version}, kiosk holds {version}",
                )
            digest = ListDigest.from_hex(digest_hex)
            delete = f"DELETE FROM {tables.live} WHERE {tables.key} = ?"
            for entry in update.remove:
                if conn.execute(delete, (entry,)).rowcount:
                    digest.remove(entry)
                    count -= 1
            placeholders = ", ".join("?" for _ in tables.columns)
            updates = ", ".join(f"{c} = excluded.{c}" for c in tables.columns[1:])
            upsert = (
                f"INSERT INTO {tables.live} ({', '.join(tables.columns)}) VALUES ({placeholders})"
                f" ON CONFLICT ({tables.key}) DO UPDATE SET {updates}"
            )
            exists = f"SELECT 1 FROM {tables.live} WHERE {tables.key} = ?"
            for row in rows:
                is_new = conn.execute(exists, (row[0],)).fetchone() is None
                conn.execute(upsert, row)
                if is_new:
                    digest.add(str(row[0]))
                    count += 1
            if digest.hex() != update.digest:
                raise _DigestMismatch(digest.hex())
            _set_version(conn, update.list, update.to_version, digest.hex(), count)
    except _DigestMismatch as mismatch:
        version = store.list_version(update.list).version
        return ApplyResult(
            Outcome.DIGEST_MISMATCH,
            update.list,
            version,
            f"digest after the delta would be {mismatch.computed}, server says {update.digest}",
        )
    return ApplyResult(Outcome.APPLIED, update.list, update.to_version)


def _apply_chunk(
    store: KioskStore,
    tables: _Tables,
    update: ListUpdate,
    rows: list[tuple[object, ...]],
    allow_rollback: bool,
) -> ApplyResult:
    try:
        with store.transaction() as conn:
            version, digest_hex, _ = _version(conn, update.list)
            if (update.to_version < version and not allow_rollback) or (
                update.to_version == version and update.digest == digest_hex
            ):
                return ApplyResult(Outcome.DUPLICATE, update.list, version, "list already current")
            state = conn.execute(
                "SELECT to_version, digest, chunks, staged_digest, staged_count"
                " FROM list_staging_state WHERE list = ?",
                (update.list,),
            ).fetchone()
            if state is None or tuple(state[:3]) != (
                update.to_version,
                update.digest,
                update.chunks,
            ):
                _clear_staging(conn, tables)
                conn.execute(
                    "INSERT INTO list_staging_state (list, to_version, digest, chunks,"
                    " staged_digest, staged_count) VALUES (?, ?, ?, ?, ?, 0)",
                    (
                        update.list,
                        update.to_version,
                        update.digest,
                        update.chunks,
                        ListDigest().hex(),
                    ),
                )
                staged_digest, staged_count = ListDigest(), 0
            else:
                staged_digest, staged_count = ListDigest.from_hex(state[3]), int(state[4])
            received = conn.execute(
                "INSERT OR IGNORE INTO list_staging_chunks (list, chunk) VALUES (?, ?)",
                (update.list, update.chunk),
            ).rowcount
            if not received:
                return ApplyResult(
                    Outcome.DUPLICATE,
                    update.list,
                    version,
                    f"chunk {update.chunk} already staged",
                    _missing(conn, update.list),
                )
            staged_count += _stage_rows(conn, tables, rows, staged_digest)
            missing = _missing(conn, update.list)
            if missing:
                conn.execute(
                    "UPDATE list_staging_state SET staged_digest = ?, staged_count = ?"
                    " WHERE list = ?",
                    (staged_digest.hex(), staged_count, update.list),
                )
                return ApplyResult(
                    Outcome.STAGED,
                    update.list,
                    version,
                    f"chunk {update.chunk} of {update.chunks} staged",
                    missing,
                )
            _clear_state(conn, update.list)
            count, recomputed = _swap_in(conn, tables)
            final = recomputed or staged_digest.hex()
            if final != update.digest:
                raise _DigestMismatch(final)  # rolls the swap back; the old list stays
            _set_version(conn, update.list, update.to_version, update.digest, count)
        return ApplyResult(Outcome.APPLIED, update.list, update.to_version)
    except _DigestMismatch as mismatch:
        discard_staging(store, update.list)
        version = store.list_version(update.list).version
        return ApplyResult(
            Outcome.DIGEST_MISMATCH,
            update.list,
            version,
            f"snapshot digest is {mismatch.computed}, server says {update.digest}",
        )


def _stage_rows(
    conn: sqlite3.Connection,
    tables: _Tables,
    rows: list[tuple[object, ...]],
    digest: ListDigest,
) -> int:
    """Append a chunk's rows to the staging heap, adding each distinct entry to ``digest``;
    returns how many distinct entries the chunk holds. Entries repeated across chunks are
    caught when the list is built (``_swap_in``)."""
    distinct: dict[object, tuple[object, ...]] = {row[0]: row for row in rows}
    placeholders = ", ".join("?" for _ in tables.columns)
    conn.executemany(
        f"INSERT INTO {tables.staging} ({', '.join(tables.columns)}) VALUES ({placeholders})",
        distinct.values(),
    )
    for entry in distinct:
        digest.add(str(entry))
    return len(distinct)


def _swap_in(conn: sqlite3.Connection, tables: _Tables) -> tuple[int, str | None]:
    """Replace the live list with the staged one in one sorted pass (inside the caller's
    transaction); returns the entry count and, if entries repeated across chunks, the digest
    recomputed over the distinct entries (None when the staged sum stands)."""
    columns = ", ".join(tables.columns)
    staged = int(conn.execute(f"SELECT count(*) FROM {tables.staging}").fetchone()[0])
    conn.execute(f"DELETE FROM {tables.live}")
    count = conn.execute(
        f"INSERT OR IGNORE INTO {tables.live} ({columns}) SELECT {columns}"
        f" FROM {tables.staging} ORDER BY {tables.key}"
    ).rowcount
    conn.execute(f"DELETE FROM {tables.staging}")
    if count == staged:
        return count, None
    digest = ListDigest()
    for (entry,) in conn.execute(f"SELECT {tables.key} FROM {tables.live}"):
        digest.add(entry)
    return count, digest.hex()


def _clear_staging(conn: sqlite3.Connection, tables: _Tables) -> None:
    conn.execute(f"DELETE FROM {tables.staging}")
    _clear_state(conn, tables.list_name)


def _clear_state(conn: sqlite3.Connection, list_name: str) -> None:
    conn.execute("DELETE FROM list_staging_state WHERE list = ?", (list_name,))
    conn.execute("DELETE FROM list_staging_chunks WHERE list = ?", (list_name,))


def _missing(conn: sqlite3.Connection, list_name: str) -> tuple[int, ...]:
    state = conn.execute(
        "SELECT chunks FROM list_staging_state WHERE list = ?", (list_name,)
    ).fetchone()
    if state is None:
        return ()
    have = {
        chunk
        for (chunk,) in conn.execute(
            "SELECT chunk FROM list_staging_chunks WHERE list = ?", (list_name,)
        )
    }
    return tuple(chunk for chunk in range(int(state[0])) if chunk not in have)


def _version(conn: sqlite3.Connection, list_name: str) -> tuple[int, str, int]:
    row = conn.execute(
        "SELECT version, digest, count FROM list_versions WHERE list = ?", (list_name,)
    ).fetchone()
    return (0, ListDigest().hex(), 0) if row is None else (int(row[0]), str(row[1]), int(row[2]))


def _set_version(
    conn: sqlite3.Connection, list_name: str, version: int, digest: str, count: int
) -> None:
    conn.execute(
        "INSERT INTO list_versions (list, scope, version, digest, count) VALUES (?, NULL, ?, ?, ?)"
        " ON CONFLICT (list) DO UPDATE SET version = excluded.version,"
        " digest = excluded.digest, count = excluded.count",
        (list_name, version, digest, count),
    )


def _rows(update: ListUpdate) -> list[tuple[object, ...]]:
    """The rows to store for ``update.add``; ``ValueError`` on what the kiosk cannot store."""
    if update.list == "revocations":
        for entry in update.remove:
            _ticket_id(entry)
        return [(_ticket_id(entry), update.scope) for entry in update.add]
    meta: Mapping[str, object] = update.meta or {}
    rows: list[tuple[object, ...]] = []
    for entry in update.add:
        facts = meta.get(entry)
        if facts is None:
            rows.append((entry, update.scope, None, None, None, None))
        elif isinstance(facts, Mapping):
            rows.append((entry, update.scope, *(_fact(facts, name) for name in _FACTS)))
        else:
            raise ValueError(f"meta for {entry} is not an object")
    return rows


def _ticket_id(entry: str) -> str:
    if not (entry.isascii() and entry.isdigit()) or str(int(entry)) != entry:
        raise ValueError(f"revocation {entry!r} is not a ticket id in canonical decimal")
    return entry


def _fact(facts: Mapping[str, object], name: str) -> int | None:
    value = facts.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_FACT:
        raise ValueError(f"meta {name} must be a whole number ≥ 0, got {value!r}")
    return value
