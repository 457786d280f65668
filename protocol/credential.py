"""The ticket credential's byte layout and text form, without crypto (MicroPython core).

A credential is ``base45(payload + signature)``; protocol/SPEC.md ("Ticket credential") has
the layout:

    payload = version(1 byte) key_id(1 byte) varint(ticket_id) varint(event_id) varint(zone)
              varint(valid_from minutes) varint(valid minutes) varint(entries)
    signature = Ed25519 over SIGNING_DOMAIN + payload (64 bytes)

Varints are unsigned LEB128 and must be canonical (shortest form) and at most 9 bytes, so each
set of claims has exactly one payload and, base45 being a bijection, exactly one text: a changed
character can never yield the same claims with a still-valid signature.

``parse`` is total: whatever it is given (any size, any type, binary junk) it returns a
``ParsedCredential`` or a ``Rejection`` and never raises. It does not check the signature;
``protocol.signing.verify_ticket`` does (CPython), a microcontroller would use its own Ed25519.
"""

from protocol import base45
from protocol.reasons import (
    EXPIRED,
    MALFORMED,
    NOT_YET_VALID,
    TOO_LONG,
    UNSUPPORTED_VERSION,
    Rejection,
)

FORMAT_VERSION = 1
#: 2024-01-01T00:00:00Z in Unix seconds: times are stored as minutes after it.
ADMIT_EPOCH = 1704067200
SIGNATURE_LENGTH = 64
#: Prefix of every signed message, so a ticket signature can never be replayed as (or made
#: from) a signature over some other kind of message signed with the same key.
SIGNING_DOMAIN = b"ADMIT-TICKET"
#: Texts longer than this are rejected before any decoding work. The longest well-formed v1
#: credential is 180 characters (every varint at its 9-byte maximum).
MAX_TEXT_LENGTH = 256
MAX_VARINT_BYTES = 9
#: Largest value a claim field can hold (9 varint bytes carry 63 bits).
MAX_FIELD_VALUE = (1 << 63) - 1
MAX_KEY_ID = 255
#: Shortest possible payload: two header bytes and six one-byte varints.
_MIN_PAYLOAD_LENGTH = 8
#: Scanners (keyboard wedges, serial) may add CR/LF or tabs; these are trimmed at the ends only.
#: The space is NOT trimmed: it is a base45 character, and a genuine credential can start with
#: one (key id 50 does) or end with one.
_TRIMMED_CONTROL = "\t\r\n\x0b\x0c"


class TicketClaims:
    """What a credential says about its ticket.

    Times are Unix seconds with minute precision. ``valid_from == 0`` means no lower bound,
    ``valid_until == 0`` means open-ended; the window is half-open: ``valid_from <= now <
    valid_until``. ``entries == 0`` means unlimited entries. ``zone`` is the ticket type or zone
    id the gate checks. Values are checked by ``encode_payload``, not here, so that parsing
    (which only builds valid claims) stays fast.
    """

    __slots__ = (
        "entries",
        "event_id",
        "key_id",
        "ticket_id",
        "valid_from",
        "valid_until",
        "zone",
    )

    def __init__(
        self,
        ticket_id: int,
        event_id: int,
        zone: int = 0,
        valid_from: int = 0,
        valid_until: int = 0,
        entries: int = 0,
        key_id: int = 0,
    ) -> None:
        self.ticket_id = ticket_id
        self.event_id = event_id
        self.zone = zone
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.entries = entries
        self.key_id = key_id

    def _fields(self) -> tuple[int, int, int, int, int, int, int]:
        return (
            self.ticket_id,
            self.event_id,
            self.zone,
            self.valid_from,
            self.valid_until,
            self.entries,
            self.key_id,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TicketClaims) and self._fields() == other._fields()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"TicketClaims(ticket_id={self.ticket_id!r}, event_id={self.event_id!r}, "
            f"zone={self.zone!r}, valid_from={self.valid_from!r}, "
            f"valid_until={self.valid_until!r}, entries={self.entries!r}, key_id={self.key_id!r})"
        )


class ParsedCredential:
    """A credential whose form is valid; its signature is not checked yet."""

    __slots__ = ("claims", "payload", "signature")

    def __init__(self, claims: TicketClaims, payload: bytes, signature: bytes) -> None:
        self.claims = claims
        self.payload = payload
        self.signature = signature

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ParsedCredential)
            and self.claims == other.claims
            and self.payload == other.payload
            and self.signature == other.signature
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self.claims, self.payload, self.signature))

    def __repr__(self) -> str:
        return (
            f"ParsedCredential({self.claims!r}, payload={self.payload!r}, "
            f"signature={self.signature!r})"
        )


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, shortest form; ``ValueError`` outside 0..MAX_FIELD_VALUE."""
    out = bytearray()
    _append_varint(out, "varint", value)
    return bytes(out)


def decode_varint(data: bytes, offset: int) -> tuple[int, int]:
    """Read one canonical varint at ``offset``; returns ``(value, next_offset)``.

    Raises ``ValueError`` if it is truncated, longer than 9 bytes, or not in shortest form
    (a final 0x00 group after a continuation byte).
    """
    value = 0
    shift = 0
    length = len(data)
    for count in range(MAX_VARINT_BYTES):
        if offset >= length:
            raise ValueError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and count > 0:
                raise ValueError("non-canonical varint")
            return value, offset
        shift += 7
    raise ValueError(f"varint longer than {MAX_VARINT_BYTES} bytes")


def encode_payload(claims: TicketClaims) -> bytes:
    """The signed bytes for ``claims``; ``ValueError`` if a claim cannot be encoded."""
    _check_int("key_id", claims.key_id, MAX_KEY_ID)
    from_minutes = _minutes_after_epoch(claims.valid_from)
    base = claims.valid_from if claims.valid_from else ADMIT_EPOCH
    duration_minutes = 0
    if claims.valid_until != 0:
        _check_time("valid_until", claims.valid_until)
        if claims.valid_until <= base:
            raise ValueError("valid_until must be after valid_from (and after 2024-01-01)")
        if claims.valid_until % 60:
            raise ValueError("valid_until must be a whole minute")
        duration_minutes = (claims.valid_until - base) // 60
    out = bytearray()
    out.append(FORMAT_VERSION)
    out.append(claims.key_id)
    _append_varint(out, "ticket_id", claims.ticket_id)
    _append_varint(out, "event_id", claims.event_id)
    _append_varint(out, "zone", claims.zone)
    _append_varint(out, "valid_from minutes", from_minutes)
    _append_varint(out, "validity minutes", duration_minutes)
    _append_varint(out, "entries", claims.entries)
    return bytes(out)


def decode_payload(payload: bytes) -> TicketClaims:
    """Claims from a v1 payload; ``ValueError`` if it is not exactly one canonical v1 payload."""
    if len(payload) < _MIN_PAYLOAD_LENGTH:
        raise ValueError(f"payload of {len(payload)} bytes is too short")
    if payload[0] != FORMAT_VERSION:
        raise ValueError(f"format version {payload[0]}")
    key_id = payload[1]
    ticket_id, offset = decode_varint(payload, 2)
    event_id, offset = decode_varint(payload, offset)
    zone, offset = decode_varint(payload, offset)
    from_minutes, offset = decode_varint(payload, offset)
    duration_minutes, offset = decode_varint(payload, offset)
    entries, offset = decode_varint(payload, offset)
    if offset != len(payload):
        raise ValueError(f"{len(payload) - offset} trailing bytes after the claims")
    valid_from = ADMIT_EPOCH + from_minutes * 60 if from_minutes else 0
    base = valid_from if valid_from else ADMIT_EPOCH
    valid_until = base + duration_minutes * 60 if duration_minutes else 0
    return TicketClaims(ticket_id, event_id, zone, valid_from, valid_until, entries, key_id)


def signed_message(payload: bytes) -> bytes:
    """The exact bytes the Ed25519 signature covers."""
    return SIGNING_DOMAIN + payload


def pack(payload: bytes, signature: bytes) -> str:
    """The credential text for a payload and its signature."""
    if len(signature) != SIGNATURE_LENGTH:
        raise ValueError(f"signature must be {SIGNATURE_LENGTH} bytes")
    return base45.encode(payload + signature)


def parse(text: object) -> ParsedCredential | Rejection:
    """Read a credential's form (not its signature). Never raises.

    Accepts ``str`` or bytes-like input (scanners deliver either); tabs, CR, LF, VT and FF at
    both ends are trimmed (not spaces: space is a base45 character). Rejections: ``too_long``
    (longer than MAX_TEXT_LENGTH before trimming), ``unsupported_version`` (decodes, but its
    first byte is not FORMAT_VERSION), ``malformed`` (anything else: wrong type, empty,
    characters outside base45, bad varints, wrong length).
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        if len(text) > MAX_TEXT_LENGTH:
            return Rejection(TOO_LONG, f"{len(text)} bytes, at most {MAX_TEXT_LENGTH}")
        try:
            text = bytes(text).decode()
        except (UnicodeError, ValueError):
            return Rejection(MALFORMED, "not text")
    if not isinstance(text, str):
        return Rejection(MALFORMED, "not text")
    if len(text) > MAX_TEXT_LENGTH:
        return Rejection(TOO_LONG, f"{len(text)} characters, at most {MAX_TEXT_LENGTH}")
    text = text.strip(_TRIMMED_CONTROL)
    if not text:
        return Rejection(MALFORMED, "empty")
    try:
        data = base45.decode(text)
    except ValueError as exc:
        return Rejection(MALFORMED, f"not base45: {exc}")
    if data[0] != FORMAT_VERSION:
        return Rejection(UNSUPPORTED_VERSION, f"format version {data[0]}")
    if len(data) < _MIN_PAYLOAD_LENGTH + SIGNATURE_LENGTH:
        return Rejection(MALFORMED, f"{len(data)} bytes is too short")
    payload = data[:-SIGNATURE_LENGTH]
    try:
        claims = decode_payload(payload)
    except ValueError as exc:
        return Rejection(MALFORMED, str(exc))
    return ParsedCredential(claims, payload, data[-SIGNATURE_LENGTH:])


def check_window(claims: TicketClaims, now: float) -> Rejection | None:
    """``not_yet_valid`` / ``expired`` if Unix time ``now`` is outside the claims' window."""
    if claims.valid_from and now < claims.valid_from:
        return Rejection(NOT_YET_VALID, f"valid from {claims.valid_from}")
    if claims.valid_until and now >= claims.valid_until:
        return Rejection(EXPIRED, f"valid until {claims.valid_until}")
    return None


def _minutes_after_epoch(valid_from: int) -> int:
    _check_time("valid_from", valid_from)
    if valid_from == 0:
        return 0
    if valid_from <= ADMIT_EPOCH:
        raise ValueError("valid_from must be 0 (no lower bound) or after 2024-01-01T00:00Z")
    if valid_from % 60:
        raise ValueError("valid_from must be a whole minute")
    return (valid_from - ADMIT_EPOCH) // 60


def _append_varint(out: bytearray, name: str, value: int) -> None:
    _check_int(name, value, MAX_FIELD_VALUE)
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _check_time(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int of Unix seconds, not {value!r}")


def _check_int(name: str, value: object, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, not {value!r}")
    if value < 0 or value > maximum:
        raise ValueError(f"{name} must be in 0..{maximum}, got {value}")
