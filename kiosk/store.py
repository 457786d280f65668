"""The kiosk's local store: one SQLite file (WAL) holding everything a gate needs offline.

Tables (schema version in the ``user_version`` pragma, upgraded by :data:`MIGRATIONS`):

- ``settings(key, value)``: mode, code salt, site/gate ids, the staff watermark
  (``staff_seq``), anything small.
- ``trusted_keys(key_id, public_key, retired)``: the keyring credentials are verified with.
- ``allowlist(entry, scope, ticket_id, event_id, zone, entries)``: hashed 12-digit codes with
  their ticket facts (the ``meta`` of ``ListUpdate``) as columns, so a lookup is one B-tree probe.
- ``revocations(ticket_id, scope)``: revoked ticket ids, as the decimal strings the list carries.
- ``list_versions(list, scope, version, digest, count)``: one row per list ("allowlist",
  "revocations"). ``*_staging`` heap tables and ``list_staging_*`` hold snapshot chunks until
  complete (see ``kiosk.lists``, which owns the list tables' SQL).
- ``admissions``: the ledger of admissions and exits, this gate's (``source = 'local'``) and other
  gates' heard by gossip (``source = 'gossip'``); ``annulled`` marks admissions nobody walked
  through. Anti-passback counts the rows that are not annulled.
- ``outbox(seq, scan_id, payload, created_ms)``: scan messages waiting for the server's ack.

Durability: the connection runs with ``synchronous=FULL``, so when :meth:`KioskStore.record_scan`
returns, the ledger row and the outbox row are on disk together (one transaction); only then may
the relay open. Every public method is one transaction. One store may be shared by threads (a lock
serialises them); several processes may open the same file (WAL, busy timeout).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from protocol.messages import Admission
from protocol.signing import KeyFormatError, Keyring, parse_key_id, public_key_from_text
from protocol.topics import STAFF_GATE

#: Schema steps; ``MIGRATIONS[n]`` takes a store from ``user_version`` n to n + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE trusted_keys (
        key_id INTEGER PRIMARY KEY,
        public_key TEXT,
        retired INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE allowlist (
        entry TEXT PRIMARY KEY,
        scope INTEGER,
        ticket_id INTEGER,
        event_id INTEGER,
        zone INTEGER,
        entries INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE allowlist_staging (
        entry TEXT PRIMARY KEY,
        scope INTEGER,
        ticket_id INTEGER,
        event_id INTEGER,
        zone INTEGER,
        entries INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE revocations (ticket_id TEXT PRIMARY KEY, scope INTEGER) WITHOUT ROWID;
    CREATE TABLE revocations_staging (ticket_id TEXT PRIMARY KEY, scope INTEGER) WITHOUT ROWID;
    CREATE TABLE list_versions (
        list TEXT PRIMARY KEY,
        scope INTEGER,
        version INTEGER NOT NULL,
        digest TEXT NOT NULL,
        count INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE list_staging_state (
        list TEXT PRIMARY KEY,
        to_version INTEGER NOT NULL,
        digest TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        staged_digest TEXT NOT NULL,
        staged_count INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE list_staging_chunks (
        list TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        PRIMARY KEY (list, chunk)
    ) WITHOUT ROWID;
    CREATE TABLE admissions (
        id INTEGER PRIMARY KEY,
        ticket_key TEXT NOT NULL,
        gate TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        at_ms INTEGER NOT NULL,
        entry_no INTEGER,
        scan_id TEXT,
        source TEXT NOT NULL CHECK (source IN ('local', 'gossip')),
        annulled INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX admissions_by_ticket ON admissions (ticket_key, at_ms);
    CREATE UNIQUE INDEX admissions_by_scan ON admissions (scan_id) WHERE scan_id IS NOT NULL;
    CREATE UNIQUE INDEX admissions_gossip_once
        ON admissions (gate, ticket_key, direction, at_ms, entry_no) WHERE source = 'gossip';
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        scan_id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    """,
    # Snapshot chunks are appended to heap tables (no key): a B-tree insert per entry in random
    # order is what made a 1,000,000-entry snapshot slow. The live table is then built in one
    # sorted pass when the last chunk is in.
    """
    DROP TABLE allowlist_staging;
    DROP TABLE revocations_staging;
    DELETE FROM list_staging_state;
    DELETE FROM list_staging_chunks;
    CREATE TABLE allowlist_staging (
        entry TEXT NOT NULL,
        scope INTEGER,
        ticket_id INTEGER,
        event_id INTEGER,
        zone INTEGER,
        entries INTEGER
    );
    CREATE TABLE revocations_staging (ticket_id TEXT NOT NULL, scope INTEGER);
    """,
)

LIST_NAMES = ("allowlist", "revocations")
MODE_SETTING = "mode"
CODE_SALT_SETTING = "code_salt"
#: The ``seq`` of the server's ``_staff`` admissions up to which this gate holds every one.
STAFF_SEQ_SETTING = "staff_seq"
DEFAULT_MODE = "normal"
_BUSY_TIMEOUT_MS = 10_000
#: WAL pages after which a commit checkpoints by itself. Far above SQLite's 1000 so that the
#: scan path rarely pays for a checkpoint: the kiosk calls ``checkpoint()`` when idle instead.
_WAL_AUTOCHECKPOINT_PAGES = 20_000
#: Page cache in KiB (negative = KiB for SQLite): a 1,000,000-entry allowlist is ~70 MB.
_CACHE_KIB = 65_536


class StoreError(RuntimeError):
    """The store cannot be used: a newer schema, or a corrupt key in it."""


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """What ``record_scan`` writes to the ledger for one decided scan.

    Only admitted scans with a ``ticket_key`` become ledger rows (``direction`` "in" for an
    entry, "out" for an exit); every scan becomes an outbox row.
    """

    scan_id: str
    gate: str
    direction: str
    at_ms: int
    admitted: bool
    ticket_key: str | None
    entry_no: int | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    scan_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One admission or exit of a ticket, at this gate (``local``) or another (``gossip``).

    ``entry_no``: for local rows the site-wide entry number decided here; for gossip rows the
    sender's ``entries_used`` (the ticket's entry count at that gate after the event).
    """

    ticket_key: str
    gate: str
    direction: str
    at_ms: int
    entry_no: int | None
    scan_id: str | None
    source: str
    annulled: bool


@dataclass(frozen=True, slots=True)
class GossipAdmission:
    """An admission or exit heard from another gate (``protocol.messages.Admission``).

    ``seq`` and ``prev``: the server's staff sequence, on admissions of ``_staff`` (see
    :meth:`KioskStore.record_gossip`); None on a gate's gossip.
    """

    gate: str
    ticket_key: str
    direction: str
    at_ms: int
    entries_used: int
    seq: int | None = None
    prev: int | None = None

    @classmethod
    def from_message(cls, message: Admission) -> GossipAdmission:
        return cls(
            gate=message.gate,
            ticket_key=message.ticket_key,
            direction=message.direction,
            at_ms=message.at,
            entries_used=message.entries_used,
            seq=message.seq,
            prev=message.prev,
        )

    @property
    def staff_seq(self) -> int | None:
        """The staff sequence this message carries (None: not a numbered staff admission)."""
        return self.seq if self.gate == STAFF_GATE else None


@dataclass(frozen=True, slots=True)
class AllowlistEntry:
    """A typed code's ticket facts from the allowlist (None where the list gave none)."""

    code_hash: str
    scope: int | None
    ticket_id: int | None
    event_id: int | None
    zone: int | None
    entries: int | None


@dataclass(frozen=True, slots=True)
class ListVersion:
    list: str
    scope: int | None
    version: int
    digest: str
    count: int


EMPTY_DIGEST = "0" * 64


class StoreView:
    """The read side of the store that the pure decision function takes.

    Each call reads the current committed state; nothing here writes.
    """

    __slots__ = ("_store",)

    def __init__(self, store: KioskStore) -> None:
        self._store = store

    def mode(self) -> str:
        return self._store.get_setting(MODE_SETTING) or DEFAULT_MODE

    def code_salt(self) -> str | None:
        return self._store.get_setting(CODE_SALT_SETTING)

    def keyring(self) -> Keyring:
        return self._store.trusted_keys()

    def allowlist_entry(self, code_hash: str) -> AllowlistEntry | None:
        return self._store.allowlist_entry(code_hash)

    def is_revoked(self, ticket_id: int) -> bool:
        return self._store.is_revoked(ticket_id)

    def admissions(self, ticket_key: str) -> list[LedgerEntry]:
        """The ticket's admissions and exits at every gate that are not annulled, oldest first."""
        return self._store.admissions(ticket_key)

    def list_version(self, list_name: str) -> ListVersion:
        return self._store.list_version(list_name)


class KioskStore:
    """The kiosk's SQLite store. Open with ``KioskStore(path)`` or ``KioskStore.open(path)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self._conn = conn
        self._lock = threading.RLock()
        self._keyring: Keyring | None = None
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            self.db.enable_wal()
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    @classmethod
    def open(cls, path: str | Path) -> KioskStore:
        return cls(path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> KioskStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Transactions and schema.

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception).

        For ``kiosk.lists`` and other writers inside the kiosk package; nests by reusing the
        outer transaction.
        """
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never waits for readers or writers).

        Call it when the gate is idle (no scan for a second or so): a checkpoint fsyncs the
        database file, which would otherwise land inside some scan's ``record_scan``.
        """
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("PRAGMA user_version").fetchone()
            return int(row[0])

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} has schema {version}; this kiosk knows up to {len(MIGRATIONS)}"
                )
            for step in range(version, len(MIGRATIONS)):
                for statement in _statements(MIGRATIONS[step]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")

    # The scan path.

    def record_scan(
        self, record: ScanRecord, outbox_payload: bytes | Callable[[int], bytes]
    ) -> int:
        """Write the scan's ledger row (if admitted) and its outbox row in one durable
        transaction; returns the outbox ``seq``.

        ``outbox_payload`` is the encoded ``Scan`` message, or a function that builds it from the
        ``seq`` this scan gets (the ``Scan`` carries its own ``seq``), called inside the
        transaction. Raises ``sqlite3.IntegrityError`` for a ``scan_id`` already recorded.
        """
        with self.transaction() as conn:
            if record.admitted and record.ticket_key is not None:
                conn.execute(
                    "INSERT INTO admissions (ticket_key, gate, direction, at_ms, entry_no,"
                    " scan_id, source) VALUES (?, ?, ?, ?, ?, ?, 'local')",
                    (
                        record.ticket_key,
                        record.gate,
                        record.direction,
                        record.at_ms,
                        record.entry_no,
                        record.scan_id,
                    ),
                )
            return _insert_outbox(conn, record.scan_id, outbox_payload, record.at_ms)

    def annul_admission(
        self,
        scan_id: str,
        outbox_payload: tuple[str, int, bytes | Callable[[int], bytes]] | None = None,
    ) -> LedgerEntry | None:
        """Mark the admission recorded by ``scan_id`` as annulled (nobody walked through).

        ``outbox_payload`` = ``(annul_scan_id, at_ms, payload)`` also queues the annulling
        ``Scan`` in the same transaction. Returns the annulled row (None if there is no such
        admission or it was annulled already, in which case nothing is queued).
        """
        with self.transaction() as conn:
            rows = conn.execute(
                "UPDATE admissions SET annulled = 1 WHERE scan_id = ? AND annulled = 0"
                " RETURNING ticket_key, gate, direction, at_ms, entry_no, scan_id, source",
                (scan_id,),
            ).fetchall()
            if not rows:
                return None
            if outbox_payload is not None:
                annul_scan_id, at_ms, payload = outbox_payload
                _insert_outbox(conn, annul_scan_id, payload, at_ms)
            return _ledger_entry((*rows[0], 1))

    def entries_used_at(self, ticket_key: str, gate: str) -> int:
        """Entries of ``ticket_key`` this store recorded at ``gate`` and not annulled (the
        ``entries_used`` of an ``Admission`` gossip message)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM admissions WHERE ticket_key = ? AND gate = ?"
                " AND source = 'local' AND direction = 'in' AND annulled = 0",
                (ticket_key, gate),
            ).fetchone()
            return int(row[0])

    def record_gossip(self, admission: GossipAdmission) -> bool:
        """Record another gate's admission or exit; False if it was heard before.

        An entry whose ``entries_used`` is below what that gate reported for earlier (or
        simultaneous) entries is that gate annulling them: its gossip rows above the new count
        are marked annulled and no new entry is recorded. A stale message (older ``at`` than
        the entries it undercounts) is just recorded, so reordering cannot annul anything.

        A numbered staff admission (``seq``, ``prev``) also moves the staff watermark
        (:meth:`staff_seq`) to its ``seq`` when it continues the chain the gate holds:
        ``prev <= staff_seq < seq``. One whose ``prev`` is above the watermark follows a staff
        admission that never came; it is recorded all the same, and the watermark stays.
        """
        with self.transaction() as conn:
            seq = admission.staff_seq
            if seq is not None and admission.prev is not None:
                held = _staff_seq(conn)
                if admission.prev <= held < seq:
                    _set_staff_seq(conn, seq)
            return self._record_gossip(conn, admission)

    def record_gossips(self, admissions: Iterable[GossipAdmission]) -> int:
        """Record many heard admissions in one transaction (one fsync), numbered staff ones in
        ``seq`` order (so a chain that arrived shuffled still joins up); returns how many were
        new."""
        ordered = sorted(admissions, key=lambda each: each.staff_seq or 0)
        with self.transaction():
            return sum(self.record_gossip(admission) for admission in ordered)

    def staff_seq(self) -> int:
        """The ``seq`` of the server's staff admissions up to which this gate holds every one
        (0: none yet); reported in the gate's ``status`` as ``staff_seq``."""
        with self._lock:
            return _staff_seq(self._conn)

    def reset_staff_seq(self) -> None:
        """Start the staff chain over (enrollment: its answer's admissions start from 0)."""
        with self.transaction() as conn:
            _set_staff_seq(conn, 0)

    @staticmethod
    def _record_gossip(conn: sqlite3.Connection, admission: GossipAdmission) -> bool:
        """The ledger side of :meth:`record_gossip`, in the caller's transaction."""
        if admission.direction == "in":
            newer = conn.execute(
                "SELECT min(at_ms) FROM admissions WHERE source = 'gossip' AND gate = ?"
                " AND ticket_key = ? AND direction = 'in' AND annulled = 0 AND entry_no > ?",
                (admission.gate, admission.ticket_key, admission.entries_used),
            ).fetchone()[0]
            if newer is not None and admission.at_ms >= newer:
                conn.execute(
                    "UPDATE admissions SET annulled = 1 WHERE source = 'gossip' AND gate = ?"
                    " AND ticket_key = ? AND direction = 'in' AND entry_no > ?",
                    (admission.gate, admission.ticket_key, admission.entries_used),
                )
                return True
        cursor = conn.execute(
            "INSERT OR IGNORE INTO admissions (ticket_key, gate, direction, at_ms, entry_no,"
            " source) VALUES (?, ?, ?, ?, ?, 'gossip')",
            (
                admission.ticket_key,
                admission.gate,
                admission.direction,
                admission.at_ms,
                admission.entries_used,
            ),
        )
        return cursor.rowcount == 1

    def admissions(self, ticket_key: str, include_annulled: bool = False) -> list[LedgerEntry]:
        query = (
            "SELECT ticket_key, gate, direction, at_ms, entry_no, scan_id, source, annulled"
            " FROM admissions WHERE ticket_key = ?"
        )
        if not include_annulled:
            query += " AND annulled = 0"
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY at_ms, id", (ticket_key,)).fetchall()
        return [_ledger_entry(row) for row in rows]

    def recent_admissions(self, limit: int) -> list[LedgerEntry]:
        """This gate's latest ledger rows, newest first (for ``admit kiosk status``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT ticket_key, gate, direction, at_ms, entry_no, scan_id, source, annulled"
                " FROM admissions WHERE source = 'local' ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_ledger_entry(row) for row in rows]

    def prune_admissions(self, before_ms: int) -> int:
        """Forget ledger rows older than ``before_ms`` (past any ticket's validity); returns
        how many were deleted."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM admissions WHERE at_ms < ?", (before_ms,)).rowcount

    # The outbox.

    def outbox_peek(self, after_seq: int, limit: int) -> list[OutboxRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, scan_id, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxRow(seq, scan_id, payload.encode()) for seq, scan_id, payload in rows]

    def outbox_ack(self, scan_ids: Iterable[str]) -> int:
        """Delete the acknowledged scans; returns how many rows went."""
        with self.transaction() as conn:
            cursor = conn.executemany(
                "DELETE FROM outbox WHERE scan_id = ?", [(scan_id,) for scan_id in scan_ids]
            )
            return max(cursor.rowcount, 0)

    def outbox_ack_through(self, seq: int) -> int:
        """Delete every scan with ``seq`` up to and including ``seq`` (the ack watermark)."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM outbox WHERE seq <= ?", (seq,)).rowcount

    def outbox_depth(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def outbox_oldest_ms(self) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT min(created_ms) FROM outbox").fetchone()
            return None if row[0] is None else int(row[0])

    # Settings and keys.

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def set_mode(self, mode: str) -> None:
        self.set_setting(MODE_SETTING, mode)

    def trusted_keys(self) -> Keyring:
        """The keyring (loaded once and cached until the keys change)."""
        with self._lock:
            if self._keyring is None:
                rows = self._conn.execute(
                    "SELECT key_id, public_key, retired FROM trusted_keys"
                ).fetchall()
                entries = {str(k): (None if retired else key) for k, key, retired in rows}
                try:
                    self._keyring = Keyring.from_dict(entries)
                except KeyFormatError as exc:
                    raise StoreError(f"a trusted key in {self.path} is unreadable: {exc}") from exc
            return self._keyring

    def set_trusted_keys(self, keys: Keyring | dict[str, str | None]) -> None:
        """Replace the keyring with ``keys`` (a Keyring or its ``to_dict`` form)."""
        keyring = keys if isinstance(keys, Keyring) else Keyring.from_dict(keys)
        with self.transaction() as conn:
            conn.execute("DELETE FROM trusted_keys")
            conn.executemany(
                "INSERT INTO trusted_keys (key_id, public_key, retired) VALUES (?, ?, ?)",
                [(int(key_id), key, int(key is None)) for key_id, key in keyring.to_dict().items()],
            )
            self._keyring = None

    def add_trusted_key(self, key_id: int | str, public_key: str) -> None:
        """Trust one more key (``KeyFormatError`` if it is not a valid key)."""
        number = parse_key_id(key_id)
        public_key_from_text(public_key)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO trusted_keys (key_id, public_key, retired) VALUES (?, ?, 0)"
                " ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key,"
                " retired = 0",
                (number, public_key.strip()),
            )
            self._keyring = None

    def retire_key(self, key_id: int | str) -> None:
        number = parse_key_id(key_id)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO trusted_keys (key_id, public_key, retired) VALUES (?, NULL, 1)"
                " ON CONFLICT (key_id) DO UPDATE SET public_key = NULL, retired = 1",
                (number,),
            )
            self._keyring = None

    # Lists (read side; kiosk.lists writes them).

    def allowlist_entry(self, code_hash: str) -> AllowlistEntry | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT entry, scope, ticket_id, event_id, zone, entries FROM allowlist"
                " WHERE entry = ?",
                (code_hash,),
            ).fetchone()
        return None if row is None else AllowlistEntry(*row)

    def is_revoked(self, ticket_id: int) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM revocations WHERE ticket_id = ?", (str(ticket_id),)
            ).fetchone()
        return row is not None

    def list_version(self, list_name: str) -> ListVersion:
        """The list's version, digest and entry count (version 0, empty digest: none yet)."""
        if list_name not in LIST_NAMES:
            raise ValueError(f"unknown list {list_name!r}; lists are {', '.join(LIST_NAMES)}")
        with self._lock:
            row = self._conn.execute(
                "SELECT list, scope, version, digest, count FROM list_versions WHERE list = ?",
                (list_name,),
            ).fetchone()
        return (
            ListVersion(list_name, None, 0, EMPTY_DIGEST, 0) if row is None else ListVersion(*row)
        )

    def view(self) -> StoreView:
        return StoreView(self)


def _insert_outbox(
    conn: sqlite3.Connection,
    scan_id: str,
    payload: bytes | Callable[[int], bytes],
    created_ms: int,
) -> int:
    if callable(payload):
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        seq = (0 if row is None else int(row[0])) + 1
        conn.execute(
            "INSERT INTO outbox (seq, scan_id, payload, created_ms) VALUES (?, ?, ?, ?)",
            (seq, scan_id, payload(seq).decode(), created_ms),
        )
        return seq
    cursor = conn.execute(
        "INSERT INTO outbox (scan_id, payload, created_ms) VALUES (?, ?, ?)",
        (scan_id, payload.decode(), created_ms),
    )
    return int(cursor.lastrowid or 0)


def _staff_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (STAFF_SEQ_SETTING,)).fetchone()
    return 0 if row is None else int(row[0])


def _set_staff_seq(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (STAFF_SEQ_SETTING, str(seq)),
    )


def _ledger_entry(row: tuple[object, ...]) -> LedgerEntry:
    ticket_key, gate, direction, at_ms, entry_no, scan_id, source, annulled = row
    return LedgerEntry(
        ticket_key=str(ticket_key),
        gate=str(gate),
        direction=str(direction),
        at_ms=int(at_ms),  # type: ignore[call-overload]
        entry_no=None if entry_no is None else int(entry_no),  # type: ignore[call-overload]
        scan_id=None if scan_id is None else str(scan_id),
        source=str(source),
        annulled=bool(annulled),
    )


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]
