"""Ed25519 signing and verification of ticket credentials (CPython only).

The only module of ``protocol`` that may import third-party packages: ``cryptography`` for keys
and signing, and, when installed, PyNaCl (libsodium) for verification, which is about half again
as fast as OpenSSL's Ed25519 check and is the kiosk's hot path (``VERIFY_BACKEND`` says which
one runs; both give the same verdicts, a test holds them to it). The
byte layout and text form live in ``protocol.credential``; this module adds keys and the
signature over ``credential.signed_message(payload)``.

Keys carry a one-byte key id that every credential names, so keys can rotate: kiosks trust a
``Keyring`` of several public keys at once, new tickets are signed with the new key, and the old
key is retired once the tickets it signed have expired (see protocol/SPEC.md ("Ticket credential")).
"""

import base64
import binascii
from collections.abc import Callable, Iterator, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.credential import (
    MAX_KEY_ID,
    TicketClaims,
    check_window,
    encode_payload,
    pack,
    parse,
    signed_message,
)
from protocol.reasons import BAD_SIGNATURE, UNKNOWN_KEY, Rejection

_sodium_open: Callable[[bytes, bytes], bytes] | None
try:  # libsodium's Ed25519 verification, when PyNaCl is installed
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.exceptions import BadSignatureError as _SodiumBadSignature
except ImportError:  # pragma: no cover - the OpenSSL path is tested by choosing it explicitly
    _sodium_open = None

#: First field of a private key's text form; names the format so other secrets are refused.
PRIVATE_KEY_LABEL = "admit-ticket-key-v1"
_SEED_LENGTH = 32
_PUBLIC_KEY_LENGTH = 32


class KeyFormatError(ValueError):
    """A key, key id or keyring in text form cannot be read."""


class SigningKey:
    """A private Ed25519 key with the key id its credentials name. Lives on the server only."""

    __slots__ = ("_private", "_public", "key_id")

    def __init__(self, key_id: int, private_key: Ed25519PrivateKey) -> None:
        self.key_id = _checked_key_id(key_id)
        self._private = private_key
        self._public = private_key.public_key()

    @classmethod
    def generate(cls, key_id: int) -> "SigningKey":
        """A new random key (from the operating system's CSPRNG)."""
        return cls(key_id, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, key_id: int, seed: bytes) -> "SigningKey":
        """The key whose 32-byte RFC 8032 private seed is ``seed`` (test vectors use this)."""
        if len(seed) != _SEED_LENGTH:
            raise KeyFormatError(f"an Ed25519 seed is {_SEED_LENGTH} bytes, got {len(seed)}")
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_text(cls, text: str) -> "SigningKey":
        """Read the form written by ``to_text``: ``admit-ticket-key-v1:<key id>:<base64 seed>``."""
        parts = text.strip().split(":")
        if len(parts) != 3 or parts[0] != PRIVATE_KEY_LABEL:
            raise KeyFormatError(f"not an Admit ticket key (expected '{PRIVATE_KEY_LABEL}:...')")
        return cls.from_seed(parse_key_id(parts[1]), _decode_base64(parts[2], "private key"))

    def to_text(self) -> str:
        """The private key as one line of text. Keep it secret (files holding it: mode 0600)."""
        seed = self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return f"{PRIVATE_KEY_LABEL}:{self.key_id}:{base64.b64encode(seed).decode('ascii')}"

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def public_key_text(self) -> str:
        """The public key as base64 of its 32 raw bytes: the value kiosks put in a keyring."""
        return public_key_to_text(self._public)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id}, public_key={self.public_key_text()!r})"


class VerifiedTicket:
    """A credential whose signature checked out with a trusted key (and, if asked, in its window).

    Revocation and entry counting are the caller's business: they need the kiosk's or server's
    state, this module has none.
    """

    __slots__ = ("claims",)

    def __init__(self, claims: TicketClaims) -> None:
        self.claims = claims

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifiedTicket) and self.claims == other.claims

    def __hash__(self) -> int:
        return hash(self.claims)

    def __repr__(self) -> str:
        return f"VerifiedTicket({self.claims!r})"


class Keyring:
    """The public keys a verifier trusts, by key id; several are valid at once during rotation.

    Keys are held as loaded ``Ed25519PublicKey`` objects so verification does no key parsing.
    A *retired* key id is remembered (not trusted) so that its tickets are rejected with a
    precise detail and the id is not silently reused; adding a key under it again re-trusts it.

    JSON-able form (``to_dict`` / ``from_dict``): ``{"<key id>": "<base64 public key>"}`` with
    ``null`` as the value of a retired key id.
    """

    __slots__ = ("_keys", "_raw", "_retired")

    def __init__(self) -> None:
        self._keys: dict[int, Ed25519PublicKey] = {}
        self._raw: dict[int, bytes] = {}
        self._retired: set[int] = set()

    @classmethod
    def from_dict(cls, entries: Mapping[str, str | None] | Mapping[int, str | None]) -> "Keyring":
        """Build from the JSON-able form; ``KeyFormatError`` on any bad id or key."""
        if not isinstance(entries, Mapping):
            raise KeyFormatError("a keyring is a JSON object of key id -> public key")
        keyring = cls()
        for raw_id, value in entries.items():
            key_id = parse_key_id(raw_id)
            if value is None:
                keyring.retire(key_id)
            elif isinstance(value, str):
                keyring.add(key_id, value)
            else:
                raise KeyFormatError(f"key {key_id}: public key must be a base64 string or null")
        return keyring

    def to_dict(self) -> dict[str, str | None]:
        entries: dict[str, str | None] = {}
        for key_id in sorted(self._keys.keys() | self._retired):
            key = self._keys.get(key_id)
            entries[str(key_id)] = None if key is None else public_key_to_text(key)
        return entries

    def add(self, key_id: int, public_key: str | Ed25519PublicKey) -> None:
        """Trust ``public_key`` under ``key_id``.

        Adding the same key again is a no-op; a *different* key under a trusted id raises
        ``KeyFormatError`` (replace a key deliberately: ``remove`` first).
        """
        key_id = _checked_key_id(key_id)
        key = public_key_from_text(public_key) if isinstance(public_key, str) else public_key
        current = self._keys.get(key_id)
        if current is not None and public_key_to_text(current) != public_key_to_text(key):
            raise KeyFormatError(f"key id {key_id} already holds a different public key")
        self._keys[key_id] = key
        self._raw[key_id] = key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._retired.discard(key_id)

    def remove(self, key_id: int) -> None:
        """Forget ``key_id`` entirely (trusted or retired); unknown ids are ignored."""
        self._keys.pop(key_id, None)
        self._raw.pop(key_id, None)
        self._retired.discard(key_id)

    def retire(self, key_id: int) -> None:
        """Stop trusting ``key_id`` and remember that it was retired."""
        key_id = _checked_key_id(key_id)
        self._keys.pop(key_id, None)
        self._raw.pop(key_id, None)
        self._retired.add(key_id)

    def get(self, key_id: int) -> Ed25519PublicKey | None:
        return self._keys.get(key_id)

    def raw(self, key_id: int) -> bytes | None:
        """The 32-byte public key of a trusted id (what libsodium verifies with)."""
        return self._raw.get(key_id)

    def is_retired(self, key_id: int) -> bool:
        return key_id in self._retired

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Keyring(trusted={sorted(self._keys)}, retired={sorted(self._retired)})"


def sign_ticket(claims: TicketClaims, key: SigningKey) -> str:
    """The credential text for ``claims`` signed by ``key``.

    Raises ``ValueError`` if ``claims.key_id`` is not the key's id or a claim cannot be encoded.
    """
    if claims.key_id != key.key_id:
        raise ValueError(f"claims name key {claims.key_id} but the signing key is {key.key_id}")
    payload = encode_payload(claims)
    return pack(payload, key.sign(signed_message(payload)))


def verify_ticket(
    text: object, keyring: Keyring, now: float | None = None
) -> VerifiedTicket | Rejection:
    """Parse and verify a credential; never raises.

    Order: form (``protocol.credential.parse``), trusted key (``unknown_key``), signature
    (``bad_signature``), then, if ``now`` (Unix seconds) is given, the validity window
    (``not_yet_valid`` / ``expired``). The window is only judged for genuine credentials, so a
    forgery is never reported as merely expired.
    """
    parsed = parse(text)
    if isinstance(parsed, Rejection):
        return parsed
    claims = parsed.claims
    key = keyring.get(claims.key_id)
    if key is None:
        state = "was retired" if keyring.is_retired(claims.key_id) else "is not trusted"
        return Rejection(UNKNOWN_KEY, f"key {claims.key_id} {state}")
    raw = keyring.raw(claims.key_id)  # held alongside every trusted key
    if raw is None or not _verify(key, raw, parsed.signature, signed_message(parsed.payload)):
        return Rejection(BAD_SIGNATURE, f"signature does not match key {claims.key_id}")
    if now is not None:
        outside = check_window(claims, now)
        if outside is not None:
            return outside
    return VerifiedTicket(claims)


def verify_with_openssl(
    key: Ed25519PublicKey, raw: bytes, signature: bytes, message: bytes
) -> bool:
    """Ed25519 check through ``cryptography`` (OpenSSL)."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_with_libsodium(
    key: Ed25519PublicKey, raw: bytes, signature: bytes, message: bytes
) -> bool:
    """Ed25519 check through PyNaCl (libsodium); needs PyNaCl installed."""
    if _sodium_open is None:
        raise RuntimeError("PyNaCl is not installed")
    try:
        _sodium_open(signature + message, raw)
    except _SodiumBadSignature:
        return False
    return True


#: Which Ed25519 implementation ``verify_ticket`` uses: libsodium when PyNaCl is installed.
VERIFY_BACKEND = "libsodium" if _sodium_open is not None else "openssl"
_verify = verify_with_libsodium if _sodium_open is not None else verify_with_openssl


def public_key_to_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Load a public key from base64 of its 32 raw bytes; ``KeyFormatError`` otherwise."""
    raw = _decode_base64(text, "public key")
    if len(raw) != _PUBLIC_KEY_LENGTH:
        raise KeyFormatError(f"an Ed25519 public key is {_PUBLIC_KEY_LENGTH} bytes, got {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFormatError(f"not an Ed25519 public key: {exc}") from exc


def parse_key_id(value: object) -> int:
    """A key id from an int or its decimal text (JSON object keys are strings)."""
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise KeyFormatError(f"key id must be a number 0..{MAX_KEY_ID}, got {value!r}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise KeyFormatError(f"key id must be a number 0..{MAX_KEY_ID}, got {value!r}")
    return _checked_key_id(value)


def _checked_key_id(key_id: int) -> int:
    if isinstance(key_id, bool) or not isinstance(key_id, int) or not 0 <= key_id <= MAX_KEY_ID:
        raise KeyFormatError(f"key id must be in 0..{MAX_KEY_ID}, got {key_id!r}")
    return key_id


def _decode_base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"{what} is not base64: {exc}") from exc
