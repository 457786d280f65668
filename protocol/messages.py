"""MQTT message kinds and their JSON form (µ: runs unchanged under MicroPython).

Every payload is one compact UTF-8 JSON object: the envelope ``{"v": 1, "kind": ..., "id": ...,
"ts": <epoch ms>}`` plus the kind's fields. One class per kind; each constructor validates its
fields and raises :class:`MessageError`, so a message object that exists is a valid one, and
``decode`` is just "parse JSON, then construct". Nothing here does I/O or reads a clock: the
caller passes ``ts`` (and may pass ``id``; otherwise :func:`new_id` draws one).

Unknown fields are ignored so a newer sender can add optional fields within ``v`` 1; a field
whose meaning changes needs a new ``v``.
"""

import json
import os

from protocol import reasons, topics

PROTOCOL_VERSION = 1
#: Payload caps in bytes: list updates carry snapshot chunks, everything else is small.
MAX_LIST_PAYLOAD = 256 * 1024
MAX_PAYLOAD = 16 * 1024
#: Largest integer in any field: what a JavaScript client can still represent exactly.
MAX_INT = 2**53 - 1
MAX_SCAN_IDS_PER_ACK = 1000
MAX_TOKEN_LENGTH = 128

# MessageError reasons.
TOO_LARGE = "too_large"
BAD_ENCODING = "bad_encoding"
BAD_JSON = "bad_json"
NOT_OBJECT = "not_object"
UNSUPPORTED_VERSION = reasons.UNSUPPORTED_VERSION
UNKNOWN_KIND = "unknown_kind"
MISSING_FIELD = "missing_field"
BAD_FIELD = "bad_field"

# Field vocabularies.
STATES = ("online", "offline", "lost")
MODES = ("normal", "locked", "free", "maintenance")
DIRECTIONS = ("in", "out")
DECISIONS = ("admitted", "rejected")
LIST_NAMES = ("allowlist", "revocations")
COMMAND_NAMES = (
    "open_once",
    "lock",
    "unlock",
    "free_passage",
    "resync",
    "set_mode",
    "audit",
    "set_keys",
)
#: Most signing keys one ``set_keys`` command may name (key ids are 1..MAX_KEY_ID anyway).
MAX_KEYS = 255
#: Hex characters of a keyring digest (a status's ``keyring``).
KEYRING_DIGEST_LENGTH = 16


def keyring_digest(keys: "dict[str, str | None]") -> str:
    """A short fingerprint of a keyring in its ``set_keys`` form (decimal key id -> public key
    text, None for a retired key): equal keyrings give equal digests whatever their order. A
    gate reports it in its status so the server can tell it missed a ``set_keys``."""
    import binascii
    import hashlib

    ordered = sorted(keys, key=lambda key_id: (len(key_id), key_id))
    text = ";".join(key_id + "=" + (keys[key_id] or "-") for key_id in ordered)
    digest: str = binascii.hexlify(hashlib.sha256(text.encode()).digest()).decode()
    return digest[:KEYRING_DIGEST_LENGTH]


_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"
_CODE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_HEX_CHARS = "0123456789abcdef"
_INF = float("inf")


class MessageError(ValueError):
    """A payload or field that is not a valid message.

    ``reason`` is one of this module's reason constants (stable wire values, usable as the
    ``error`` of a refused command's result); ``detail`` names the field and the problem.
    ``command_id`` is set when a refused payload was a command whose correlation id could
    still be read, so the kiosk can answer it on the results topic.
    """

    def __init__(self, reason: str, detail: str = "", command_id: str | None = None) -> None:
        super().__init__(reason + ": " + detail if detail else reason)
        self.reason = reason
        self.detail = detail
        self.command_id = command_id


def new_id() -> str:
    """A fresh message, scan or command id: 16 random bytes as 32 hex characters."""
    random_bytes: bytes = os.urandom(16)
    return random_bytes.hex()


# Field checks: each returns the value unchanged or raises MessageError(BAD_FIELD).


def _bad(name: str, problem: str) -> MessageError:
    return MessageError(BAD_FIELD, name + " " + problem)


def _is_int(value: object) -> bool:
    # bool is an int subclass on CPython (not on MicroPython): JSON true is never a number.
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object, name: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(name, "must be an integer")
    if not minimum <= value <= MAX_INT:
        raise _bad(name, "out of range")
    return value


def _opt_int(value: object, name: str, minimum: int = 0) -> int | None:
    return None if value is None else _int(value, name, minimum)


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, "must be true or false")
    return value


def _str(value: object, name: str, max_length: int = MAX_TOKEN_LENGTH) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise _bad(name, "must be a string of 1.." + str(max_length) + " characters")
    return value


def _chars(value: object, name: str, allowed: str, max_length: int = MAX_TOKEN_LENGTH) -> str:
    text = _str(value, name, max_length)
    # Stripping every allowed character from both ends leaves nothing exactly when every
    # character is allowed: one C-level pass instead of a Python loop (the server decodes
    # thousands of messages a second), and MicroPython has str.strip(chars) too.
    if text.strip(allowed):
        raise _bad(name, "has a character outside " + repr(allowed))
    return text


def _ident(value: object, name: str) -> str:
    """Message, scan and command ids: 1..64 of ``[A-Za-z0-9-_.:]``."""
    return _chars(value, name, _ID_CHARS, 64)


def _opt_ident(value: object, name: str) -> str | None:
    return None if value is None else _ident(value, name)


def _code(value: object, name: str) -> str:
    """Reason codes and metric names: lower snake case, 1..64 characters."""
    return _chars(value, name, _CODE_CHARS, 64)


def _hex(value: object, name: str) -> str:
    return _chars(value, name, _HEX_CHARS)


def _gate(value: object, name: str = "gate") -> str:
    if not topics.is_valid_id(value):
        raise _bad(name, "must be a site or gate id ([a-z0-9-_], 1..64 characters)")
    return str(value)


def _choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _bad(name, "must be one of " + ", ".join(choices))
    return value


def _tokens(value: object, name: str, max_items: int) -> list[str]:
    """A list of list entries or scan ids: printable ASCII strings without spaces."""
    if not isinstance(value, list) or len(value) > max_items:
        raise _bad(name, "must be a list of at most " + str(max_items) + " strings")
    for item in value:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_TOKEN_LENGTH:
            raise _bad(name, "has an item that is not a string of 1..128 characters")
        for char in item:
            if not "!" <= char <= "~":
                raise _bad(name, "has an item with a space or non-ASCII character")
    return list(value)


def _number(value: object, name: str) -> int | float:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value == value and value not in (_INF, -_INF):
        return value
    raise _bad(name, "must be a finite number")


def _token(value: object, name: str) -> str:
    """An opaque printable-ASCII token without spaces, such as a code hash."""
    return _tokens([value], name, 1)[0]


def _json_value(value: object, name: str, depth: int = 0) -> object:
    """Any JSON value that re-encodes as it came: finite numbers, string keys, bounded depth."""
    if depth > 8:
        raise _bad(name, "is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        number = _number(value, name)
        if _is_int(number) and not -MAX_INT <= number <= MAX_INT:
            raise _bad(name, "has an integer out of range")
        return number
    if isinstance(value, list):
        return [_json_value(item, name, depth + 1) for item in value]
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _bad(name, "has a non-string key")
            _json_value(item, name, depth + 1)
        return value
    raise _bad(name, "is not a JSON value")


def _object(value: object, name: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _bad(name, "must be an object")
    _json_value(value, name)
    return value


def _keyring_entries(value: object, name: str) -> dict[str, object]:
    """A keyring's JSON form: decimal key id -> public key text, or null for a retired key.
    Only the shape is checked here; the receiver parses the keys themselves."""
    if not isinstance(value, dict) or len(value) > MAX_KEYS:
        raise _bad(name, "must be an object of at most " + str(MAX_KEYS) + " keys")
    for key_id, public_key in value.items():
        if not isinstance(key_id, str) or not key_id.isdigit() or len(key_id) > 3:
            raise _bad(name, "ids must be decimal key ids")
        if public_key is not None:
            _str(public_key, name + "." + key_id)
    return value


def _kwargs(cls: "type[Message]", data: dict[str, object]) -> dict[str, object]:
    """Constructor arguments for ``cls`` read from a decoded JSON object."""
    kwargs: dict[str, object] = {"ts": _field(data, "ts"), "id": _field(data, "id")}
    for name in cls.FIELDS:
        kwargs[name] = _field(data, name)
    for name in cls.OPTIONAL:
        kwargs[name] = data.get(name)
    return kwargs


def _field(data: dict[str, object], name: str) -> object:
    if name not in data:
        raise MessageError(MISSING_FIELD, name)
    return data[name]


class Message:
    """The envelope every kind shares: a unique ``id`` and the sender's ``ts`` (epoch ms).

    Subclasses list their wire fields in ``FIELDS`` (required; ``null`` allowed where the
    constructor allows None) and ``OPTIONAL`` (may be absent, meaning null), and the topic
    kinds they travel on in ``TOPICS``.
    """

    __slots__ = ("id", "ts")
    KIND = ""
    TOPICS: tuple[str, ...] = ()
    FIELDS: tuple[str, ...] = ()
    OPTIONAL: tuple[str, ...] = ()

    def __init__(self, ts: int, id: str | None) -> None:
        self.ts = _int(ts, "ts")
        self.id = new_id() if id is None else _ident(id, "id")

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"v": PROTOCOL_VERSION, "kind": self.KIND}
        data["id"] = self.id
        data["ts"] = self.ts
        for name in self.FIELDS + self.OPTIONAL:
            data[name] = getattr(self, name)
        return data

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Message)
            and type(other) is type(self)
            and self.to_dict() == other.to_dict()
        )

    def __repr__(self) -> str:
        return type(self).__name__ + "(" + repr(self.to_dict()) + ")"


class Status(Message):
    """A gate's state, retained on its status topic; the kiosk's last will says "lost"."""

    __slots__ = (
        "allowlist_version",
        "gate",
        "keyring",
        "mode",
        "outbox_depth",
        "revocations_version",
        "since",
        "software",
        "staff_seq",
        "state",
    )
    KIND = "status"
    TOPICS = (topics.STATUS,)
    FIELDS = (
        "gate",
        "state",
        "mode",
        "allowlist_version",
        "revocations_version",
        "outbox_depth",
        "software",
        "since",
    )
    #: ``keyring``: :func:`keyring_digest` of the signing keys the gate trusts;
    #: ``staff_seq``: the ``seq`` of the server's ``_staff`` admissions up to which the gate
    #: holds every one (0: none yet). Both are absent from gates older than them.
    OPTIONAL = ("keyring", "staff_seq")

    def __init__(
        self,
        *,
        gate: str,
        state: str,
        mode: str,
        allowlist_version: int,
        revocations_version: int,
        outbox_depth: int,
        software: str,
        since: int,
        ts: int,
        keyring: str | None = None,
        staff_seq: int | None = None,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.gate = _gate(gate)
        self.state = _choice(state, "state", STATES)
        self.mode = _choice(mode, "mode", MODES)
        self.allowlist_version = _int(allowlist_version, "allowlist_version")
        self.revocations_version = _int(revocations_version, "revocations_version")
        self.outbox_depth = _int(outbox_depth, "outbox_depth")
        self.software = _str(software, "software", 64)
        self.since = _int(since, "since")
        self.keyring = (
            None
            if keyring is None
            else _chars(keyring, "keyring", _HEX_CHARS, KEYRING_DIGEST_LENGTH)
        )
        self.staff_seq = _opt_int(staff_seq, "staff_seq")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Status":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


class Scan(Message):
    """One scan decided at a gate, relayed from the kiosk's durable outbox.

    ``scan_id`` de-duplicates at the server; ``seq`` orders a kiosk's scans and feeds the ack
    watermark. An admission annulled because nobody walked through is reported as a second
    scan with decision "rejected", reason ``not_passed`` and ``annuls`` = the admission's id.
    """

    __slots__ = (
        "annuls",
        "code_hash",
        "decision",
        "direction",
        "entry_no",
        "event_id",
        "gate",
        "offline",
        "reason",
        "scan_id",
        "scanned_at",
        "seq",
        "ticket_id",
    )
    KIND = "scan"
    TOPICS = (topics.SCANS,)
    FIELDS = (
        "scan_id",
        "gate",
        "seq",
        "scanned_at",
        "offline",
        "direction",
        "decision",
        "reason",
        "ticket_id",
        "event_id",
        "code_hash",
        "entry_no",
    )
    OPTIONAL = ("annuls",)

    def __init__(
        self,
        *,
        scan_id: str,
        gate: str,
        seq: int,
        scanned_at: int,
        offline: bool,
        direction: str,
        decision: str,
        reason: str,
        ticket_id: int | None,
        event_id: int | None,
        code_hash: str | None,
        entry_no: int | None,
        ts: int,
        annuls: str | None = None,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.scan_id = _ident(scan_id, "scan_id")
        self.gate = _gate(gate)
        self.seq = _int(seq, "seq", 1)
        self.scanned_at = _int(scanned_at, "scanned_at")
        self.offline = _bool(offline, "offline")
        self.direction = _choice(direction, "direction", DIRECTIONS)
        self.decision = _choice(decision, "decision", DECISIONS)
        self.reason = _code(reason, "reason")
        if (self.decision == "admitted") != (self.reason == reasons.ADMITTED):
            raise _bad("reason", "must be 'admitted' exactly when decision is 'admitted'")
        self.ticket_id = _opt_int(ticket_id, "ticket_id")
        self.event_id = _opt_int(event_id, "event_id")
        self.code_hash = None if code_hash is None else _token(code_hash, "code_hash")
        self.entry_no = _opt_int(entry_no, "entry_no", 1)
        self.annuls = _opt_ident(annuls, "annuls")
        if self.annuls is not None and self.reason != reasons.NOT_PASSED:
            raise _bad("annuls", "is only allowed with reason 'not_passed'")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Scan":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


class ScanAck(Message):
    """The server has durably stored these scans; the kiosk may delete them from its outbox.

    ``watermark`` is the highest ``seq`` such that every scan of this gate up to it is
    stored (0: none yet); ``scan_ids`` names stored scans beyond it or individually.
    """

    __slots__ = ("gate", "scan_ids", "watermark")
    KIND = "scan_ack"
    TOPICS = (topics.ACKS,)
    FIELDS = ("gate", "scan_ids", "watermark")

    def __init__(
        self,
        *,
        gate: str,
        scan_ids: list[str],
        watermark: int,
        ts: int,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.gate = _gate(gate)
        self.scan_ids = _tokens(scan_ids, "scan_ids", MAX_SCAN_IDS_PER_ACK)
        for scan_id in self.scan_ids:
            _ident(scan_id, "scan_ids")
        self.watermark = _int(watermark, "watermark")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "ScanAck":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


class Admission(Message):
    """Gossip from the gate that admitted (or let out) a ticket, for cross-gate anti-passback.

    ``ticket_key`` is ``t:<ticket_id>`` for signed credentials or ``c:<code_hash>`` for typed
    codes; ``entries_used`` is the ticket's entry count after this event at that gate.

    The server's pseudo-gate ``topics.STAFF_GATE`` numbers its admissions: ``seq`` (increasing,
    assigned by the server) and ``prev``, the ``seq`` of the site's staff admission before it
    (0: none), so a gate can tell it missed one and report in its status (``staff_seq``) how
    far it holds every one. Both or neither, ``prev`` below ``seq``, and only from ``_staff``.
    A ``_staff`` admission may also come on one gate's own ``lists`` topic: one it missed,
    resent to it alone.
    """

    __slots__ = ("at", "direction", "entries_used", "gate", "prev", "seq", "ticket_key")
    KIND = "admission"
    TOPICS = (topics.ADMISSIONS, topics.LISTS)
    FIELDS = ("gate", "ticket_key", "direction", "at", "entries_used")
    OPTIONAL = ("seq", "prev")

    def __init__(
        self,
        *,
        gate: str,
        ticket_key: str,
        direction: str,
        at: int,
        entries_used: int,
        ts: int,
        seq: int | None = None,
        prev: int | None = None,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.gate = _gate(gate)
        self.ticket_key = _ticket_key(ticket_key)
        self.direction = _choice(direction, "direction", DIRECTIONS)
        self.at = _int(at, "at")
        self.entries_used = _int(entries_used, "entries_used")
        self.seq = _opt_int(seq, "seq", 1)
        self.prev = _opt_int(prev, "prev")
        if (self.seq is None) != (self.prev is None):
            raise _bad("prev", "and seq must be given together")
        if self.seq is not None:
            if self.gate != topics.STAFF_GATE:
                raise _bad("seq", "is only for admissions of " + topics.STAFF_GATE)
            if self.prev is not None and self.prev >= self.seq:
                raise _bad("prev", "must be below seq")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Admission":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


def ticket_key_for_ticket(ticket_id: int) -> str:
    """The gossip key of a signed ticket."""
    return "t:" + str(_int(ticket_id, "ticket_id"))


def ticket_key_for_code(code_hash: str) -> str:
    """The gossip key of an allowlisted 12-digit code, by its hash."""
    return "c:" + _token(code_hash, "code_hash")


def _ticket_key(value: object) -> str:
    text = _token(value, "ticket_key")
    rest = text[2:]
    if text.startswith("t:") and rest and rest.isdigit() and str(int(rest)) == rest:
        return text
    if text.startswith("c:") and rest:
        return text
    raise _bad("ticket_key", "must be 't:<ticket_id>' or 'c:<code_hash>'")


class Command(Message):
    """An order from the server to one gate, answered by a CommandResult with the same
    ``command_id``; a gate refuses it once ``expires_at`` (epoch ms) has passed."""

    __slots__ = ("args", "command_id", "expires_at", "name")
    KIND = "command"
    TOPICS = (topics.COMMANDS,)
    FIELDS = ("command_id", "name", "args")
    OPTIONAL = ("expires_at",)

    def __init__(
        self,
        *,
        command_id: str,
        name: str,
        args: dict[str, object],
        ts: int,
        expires_at: int | None = None,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.command_id = _ident(command_id, "command_id")
        self.name = _choice(name, "name", COMMAND_NAMES)
        self.args = _object(args, "args")
        if self.name == "set_mode":
            _choice(self.args.get("mode"), "args.mode", MODES)
        if self.name == "set_keys":
            _keyring_entries(self.args.get("keys"), "args.keys")
        self.expires_at = _opt_int(expires_at, "expires_at")

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_at is not None and now_ms >= self.expires_at

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Command":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


class CommandResult(Message):
    """A gate's answer to a command: ``ok`` and no error, or not ``ok`` with a reason code."""

    __slots__ = ("command_id", "detail", "error", "gate", "ok")
    KIND = "command_result"
    TOPICS = (topics.RESULTS,)
    FIELDS = ("command_id", "gate", "ok", "error", "detail")

    def __init__(
        self,
        *,
        command_id: str,
        gate: str,
        ok: bool,
        error: str | None,
        detail: dict[str, object],
        ts: int,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.command_id = _ident(command_id, "command_id")
        self.gate = _gate(gate)
        self.ok = _bool(ok, "ok")
        self.error = None if error is None else _code(error, "error")
        if self.ok != (self.error is None):
            raise _bad("error", "must be null exactly when ok is true")
        self.detail = _object(detail, "detail")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "CommandResult":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


class ListUpdate(Message):
    """A versioned change to a site's allowlist or revocation list.

    A delta (``snapshot`` false) moves the list from ``from_version`` to ``to_version`` and is
    one message (chunk 0 of 1). A snapshot replaces the list with the union of ``add`` over
    chunks ``0..chunks-1``, all carrying the same ``to_version`` and digest. ``digest`` is the
    list's ListDigest after applying: check it before committing, resync when it differs.

    Versions count per site and list (one counter, whatever the scope), so a kiosk applies a
    delta only when ``from_version`` equals its version. ``scope`` labels the entries: an event
    id when they all belong to one event, null for site-wide. Allowlist entries are code hashes;
    ``meta`` (optional) maps an added entry to its ticket facts, by convention ``ticket_id``,
    ``event_id``, ``zone`` and ``entries``. Revocation entries are ticket ids in decimal. The
    digest covers the entry strings only.
    """

    __slots__ = (
        "add",
        "chunk",
        "chunks",
        "digest",
        "from_version",
        "list",
        "meta",
        "remove",
        "scope",
        "site",
        "snapshot",
        "to_version",
    )
    KIND = "list_update"
    TOPICS = (topics.SITE_LISTS, topics.LISTS)
    FIELDS = (
        "list",
        "site",
        "scope",
        "snapshot",
        "from_version",
        "to_version",
        "add",
        "remove",
        "digest",
        "chunk",
        "chunks",
    )
    OPTIONAL = ("meta",)
    MAX_ENTRIES = 20000

    def __init__(
        self,
        *,
        list: str,
        site: str,
        scope: int | None,
        snapshot: bool,
        from_version: int,
        to_version: int,
        add: "list[str]",
        remove: "list[str]",
        digest: str,
        chunk: int,
        chunks: int,
        ts: int,
        meta: dict[str, object] | None = None,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.list = _choice(list, "list", LIST_NAMES)
        self.site = _gate(site, "site")
        self.scope = _opt_int(scope, "scope")
        self.snapshot = _bool(snapshot, "snapshot")
        self.from_version = _int(from_version, "from_version")
        self.to_version = _int(to_version, "to_version", 1)
        self.add = _tokens(add, "add", self.MAX_ENTRIES)
        self.remove = _tokens(remove, "remove", self.MAX_ENTRIES)
        self.meta = _entry_meta(meta, self.add)
        self.digest = _hex(digest, "digest")
        self.chunks = _int(chunks, "chunks", 1)
        self.chunk = _int(chunk, "chunk")
        if self.chunk >= self.chunks:
            raise _bad("chunk", "must be below chunks")
        if self.snapshot:
            if self.remove:
                raise _bad("remove", "must be empty in a snapshot")
        elif self.to_version <= self.from_version:
            raise _bad("to_version", "must be above from_version in a delta")
        elif self.chunks != 1:
            raise _bad("chunks", "must be 1 in a delta")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "ListUpdate":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


def _entry_meta(value: object, added: "list[str]") -> dict[str, object] | None:
    if value is None:
        return None
    meta = _object(value, "meta")
    if meta:
        known = set(added)
        for entry, facts in meta.items():
            if entry not in known or not isinstance(facts, dict):
                raise _bad("meta", "must map added entries to objects")
    return meta


class ListAnnounce(Message):
    """The site's current list versions and digests, retained so a kiosk sees them on
    connect and can tell at once whether it is behind."""

    __slots__ = (
        "allowlist_digest",
        "allowlist_version",
        "revocations_digest",
        "revocations_version",
        "site",
    )
    KIND = "list_announce"
    TOPICS = (topics.LIST_ANNOUNCE,)
    FIELDS = (
        "site",
        "allowlist_version",
        "allowlist_digest",
        "revocations_version",
        "revocations_digest",
    )

    def __init__(
        self,
        *,
        site: str,
        allowlist_version: int,
        allowlist_digest: str,
        revocations_version: int,
        revocations_digest: str,
        ts: int,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.site = _gate(site, "site")
        self.allowlist_version = _int(allowlist_version, "allowlist_version")
        self.allowlist_digest = _hex(allowlist_digest, "allowlist_digest")
        self.revocations_version = _int(revocations_version, "revocations_version")
        self.revocations_digest = _hex(revocations_digest, "revocations_digest")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "ListAnnounce":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


class Telemetry(Message):
    """Numeric health figures of a gate (decode times, queue depths, temperatures)."""

    __slots__ = ("gate", "metrics")
    KIND = "telemetry"
    TOPICS = (topics.TELEMETRY,)
    FIELDS = ("gate", "metrics")
    MAX_METRICS = 64

    def __init__(
        self,
        *,
        gate: str,
        metrics: dict[str, int | float],
        ts: int,
        id: str | None = None,
    ) -> None:
        Message.__init__(self, ts, id)
        self.gate = _gate(gate)
        if not isinstance(metrics, dict) or len(metrics) > self.MAX_METRICS:
            raise _bad("metrics", "must be an object of at most 64 numbers")
        for key, value in metrics.items():
            _code(key, "metrics key")
            _number(value, "metrics." + str(key))
        self.metrics = metrics

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Telemetry":
        return cls(**_kwargs(cls, data))  # type: ignore[arg-type]


KINDS = {
    cls.KIND: cls
    for cls in (
        Status,
        Scan,
        ScanAck,
        Admission,
        Command,
        CommandResult,
        ListUpdate,
        ListAnnounce,
        Telemetry,
    )
}


def _size_cap(kind: str) -> int:
    return MAX_LIST_PAYLOAD if kind == ListUpdate.KIND else MAX_PAYLOAD


def encode(message: Message) -> bytes:
    """Compact UTF-8 JSON; raises MessageError(TOO_LARGE) past the kind's cap (split
    snapshots into more chunks)."""
    payload = json.dumps(message.to_dict(), separators=(",", ":")).encode("utf-8")
    if len(payload) > _size_cap(message.KIND):
        raise MessageError(TOO_LARGE, message.KIND + " payload of " + str(len(payload)))
    return payload


def decode(payload: object) -> Message:
    """The message in ``payload`` (bytes or str); raises MessageError and nothing else."""
    if isinstance(payload, str):
        if len(payload) > MAX_LIST_PAYLOAD:
            raise MessageError(TOO_LARGE, str(len(payload)) + " characters")
        try:
            size = len(payload.encode("utf-8"))
        except ValueError:
            raise MessageError(BAD_ENCODING, "text is not encodable as UTF-8") from None
        text = payload
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        size = len(payload)
        if size > MAX_LIST_PAYLOAD:
            raise MessageError(TOO_LARGE, str(size) + " bytes")
        try:
            text = bytes(payload).decode("utf-8")
        except ValueError:
            raise MessageError(BAD_ENCODING, "payload is not UTF-8") from None
    else:
        raise MessageError(BAD_ENCODING, "payload must be bytes or str")
    if size > MAX_LIST_PAYLOAD:
        raise MessageError(TOO_LARGE, str(size) + " bytes")
    try:
        data = json.loads(text)
    except (ValueError, RuntimeError, MemoryError):
        # RecursionError (CPython) is a RuntimeError; MicroPython runs out of memory instead.
        raise MessageError(BAD_JSON, "payload is not JSON") from None
    if not isinstance(data, dict):
        raise MessageError(NOT_OBJECT, "payload must be a JSON object")
    version = _field(data, "v")
    if not _is_int(version) or version != PROTOCOL_VERSION:
        raise MessageError(UNSUPPORTED_VERSION, "v " + repr(version))
    kind = _field(data, "kind")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise MessageError(UNKNOWN_KIND, repr(kind)[:80])
    if size > _size_cap(cls.KIND):
        raise MessageError(TOO_LARGE, cls.KIND + " payload of " + str(size) + " bytes")
    try:
        return cls.from_dict(data)
    except MessageError as error:
        command_id = data.get("command_id")
        if cls is Command and error.command_id is None and _is_ident(command_id):
            error.command_id = str(command_id)
        raise


def _is_ident(value: object) -> bool:
    try:
        _ident(value, "id")
    except MessageError:
        return False
    return True


def matches_topic(message: Message, ref: topics.TopicRef) -> bool:
    """True when ``message`` may travel on the topic ``ref``: the right kind for that topic,
    and the gate and site it names agree with the topic's. The broker ACL authenticates the
    topic, so a payload whose gate differs from its topic's is a forgery or a bug."""
    if ref.kind not in message.TOPICS:
        return False
    gate = getattr(message, "gate", None)
    if ref.kind == topics.LISTS and message.KIND == Admission.KIND:
        # a staff admission resent to one gate on that gate's own topic
        return gate == topics.STAFF_GATE
    if gate is not None and gate != ref.gate:
        return False
    site = getattr(message, "site", None)
    return site is None or site == ref.site
