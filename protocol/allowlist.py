"""Allowlist hashing and the set digest kiosks and server compare (MicroPython core).

``hash_code`` turns a verification code into the entry a kiosk stores, so a stolen kiosk's
database does not list the plain codes. It is a salted, truncated SHA-256 and only a speed bump:
the code space is 10**11, small enough to brute-force with the salt in hand. The real protection
is that codes only work at a gate the server has configured for them.

``ListDigest`` summarises a set of entries in 32 bytes so that a kiosk can prove it holds
exactly the server's list version without downloading it again: the digest is the sum of
SHA-256(entry) over all entries, modulo 2**256. A sum is order-independent and updated in O(1)
per added or removed entry, so applying a delta updates the digest in O(delta). It detects
drift (a lost, doubled or extra entry), not an adversary: additive set hashes of this size can be
collided deliberately (Wagner's generalized birthday attack), and the entries come from the
server over an authenticated link anyway.
"""

import hashlib

try:  # noqa: SIM105 (MicroPython has no contextlib)
    from collections.abc import Iterable
except ImportError:  # MicroPython: no collections.abc; annotations are never evaluated there
    pass

HASH_HEX_LENGTH = 32
DIGEST_HEX_LENGTH = 64
_MODULUS = 1 << 256
_HEX_DIGITS = "0123456789abcdef"


def hash_code(code: str, salt: str) -> str:
    """The allowlist entry for ``code``: hex of the first 16 bytes of SHA-256(salt ":" code).

    ``code`` must already be normalized (``protocol.codes.normalize``) so every spelling of the
    same code hashes alike; ``salt`` is per list (e.g. per event), so entries do not match
    across lists.
    """
    digest: bytes = hashlib.sha256((salt + ":" + code).encode()).digest()
    entry: str = digest[: HASH_HEX_LENGTH // 2].hex()
    return entry


class ListDigest:
    """Order-independent, incrementally updatable digest of a set of entry strings.

    Treats its input as a multiset: adding an entry already present changes the digest again,
    so callers add only entries that are new to their set and remove only present ones.
    """

    __slots__ = ("_value",)

    def __init__(self, value: int = 0) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MODULUS:
            raise ValueError("digest value must be in 0..2**256-1")
        self._value = value

    @classmethod
    def of(cls, entries: "Iterable[str]") -> "ListDigest":
        digest = cls()
        for entry in entries:
            digest.add(entry)
        return digest

    @classmethod
    def from_hex(cls, text: str) -> "ListDigest":
        """Read ``hex()``'s form: exactly 64 hex digits (either case); ``ValueError`` otherwise."""
        if not isinstance(text, str) or len(text) != DIGEST_HEX_LENGTH:
            raise ValueError(f"a list digest is {DIGEST_HEX_LENGTH} hex digits")
        lowered = text.lower()
        for char in lowered:
            if char not in _HEX_DIGITS:
                raise ValueError(f"a list digest is {DIGEST_HEX_LENGTH} hex digits")
        return cls(int(lowered, 16))

    def add(self, entry: str) -> None:
        self._value = (self._value + _entry_value(entry)) % _MODULUS

    def remove(self, entry: str) -> None:
        self._value = (self._value - _entry_value(entry)) % _MODULUS

    def copy(self) -> "ListDigest":
        return ListDigest(self._value)

    def hex(self) -> str:
        """64 lowercase hex digits; the empty set's digest is all zeros."""
        return f"{self._value:064x}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListDigest) and self._value == other._value

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"ListDigest({self.hex()!r})"


def _entry_value(entry: str) -> int:
    return int.from_bytes(hashlib.sha256(entry.encode()).digest(), "big")
