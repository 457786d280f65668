"""Each merchant's ticket signing keys and code-hash salt (seam 4 of docs/SERVER_API).

A merchant gets its first key and its salt the first time anything needs them. Rotation makes a
new key active for new tickets while the older keys stay *trusted* (kiosks keep verifying the
tickets they signed); retiring a key re-signs that key's still-valid tickets with the active key
and then stops trusting it. Two transactions that both find no key race on the unique
``(merchant_id, key_id)`` constraint inside a savepoint; the loser reads the winner's key.

Verifiers (check-in) take loaded keyrings from :data:`trusted_keyrings`, a per-process cache:
rotating or retiring a key drops the merchant's entry when the change commits, an entry is
reloaded after :data:`KEYRING_TTL_SECONDS` (other server processes' changes), and check-in
reloads it at once for a credential the cached keys refuse (a key rotated in elsewhere).
Both changes are announced with :data:`server.signals.keys_changed` (the fleet sends the new
keyring to the merchant's gates).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.credential import MAX_KEY_ID
from protocol.signing import Keyring, SigningKey
from server.clock import utc_now
from server.errors import Conflict, NotFound
from server.signals import keys_changed
from server.tickets import repository as repo
from server.tickets.models import SigningKeyState, TicketCodeSalt, TicketSigningKey

#: Key ids start at 1 so that 0 never appears as "no key" by accident.
FIRST_KEY_ID = 1
SALT_BYTES = 16

#: How long a process trusts its cached keyring of a merchant without reading the keys again:
#: the longest a key retired by *another* server process may still verify here.
#: A key retired in another server process is still trusted here for at most this long.
KEYRING_TTL_SECONDS = 5.0

T = TypeVar("T")


def keyring_for_merchant(
    session: Session, merchant_id: int, now: datetime | None = None
) -> dict[int, str]:
    """Key id -> public key text (``protocol.signing`` format) of every key kiosks must trust:
    the active key and the rotated-out ones not yet retired. Makes the first key if needed."""
    records = repo.signing_keys(session, merchant_id)
    if not any(key.state is SigningKeyState.ACTIVE for key in records):
        ensure_active_key(session, merchant_id, now or utc_now())
        records = repo.signing_keys(session, merchant_id)
    return {
        key.key_id: key.public_key for key in records if key.state is not SigningKeyState.RETIRED
    }


@dataclass(frozen=True)
class CachedKeyring:
    keyring: Keyring
    loaded_at: float


class KeyringCache:
    """Each merchant's loaded :class:`Keyring` (parsing public keys costs more than verifying),
    read from the database at most every ``ttl`` seconds. Thread-safe."""

    def __init__(
        self, ttl: float = KEYRING_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[int, CachedKeyring] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, merchant_id: int, now: datetime) -> CachedKeyring:
        """The cached keyring, or a fresh one when there is none or it is older than ``ttl``."""
        with self._lock:
            entry = self._entries.get(merchant_id)
        if entry is not None and self.clock() - entry.loaded_at < self.ttl:
            return entry
        return self.load(session, merchant_id, now)

    def load(self, session: Session, merchant_id: int, now: datetime) -> CachedKeyring:
        """Read the merchant's trusted keys now and cache them."""
        trusted = keyring_for_merchant(session, merchant_id, now)
        entry = CachedKeyring(
            Keyring.from_dict({str(key_id): text for key_id, text in trusted.items()}),
            self.clock(),
        )
        with self._lock:
            self._entries[merchant_id] = entry
        return entry

    def invalidate(self, merchant_id: int) -> None:
        with self._lock:
            self._entries.pop(merchant_id, None)

    def invalidate_on_commit(self, session: Session, merchant_id: int) -> None:
        """Drop the merchant's entry now and again when ``session`` commits (a concurrent
        request may cache the old keys between the two)."""
        self.invalidate(merchant_id)
        event.listen(session, "after_commit", lambda _s: self.invalidate(merchant_id), once=True)


#: The process's keyring cache (check-in's verifier).
trusted_keyrings = KeyringCache()


def code_salt_for_merchant(session: Session, merchant_id: int, now: datetime | None = None) -> str:
    """The salt kiosks use with ``protocol.allowlist.hash_code``; made on first need, never
    changed (every kiosk's allowlist is hashed with it)."""
    existing = repo.get_code_salt(session, merchant_id)
    if existing is not None:
        return existing.salt
    made = _insert_or_reread(
        session,
        lambda: repo.add_code_salt(
            session,
            TicketCodeSalt(
                merchant_id=merchant_id,
                salt=secrets.token_hex(SALT_BYTES),
                created_at=now or utc_now(),
            ),
        ),
        lambda: repo.get_code_salt(session, merchant_id),
    )
    return made.salt


def ensure_active_key(session: Session, merchant_id: int, now: datetime) -> TicketSigningKey:
    """The merchant's active key, generated if the merchant has none yet."""
    active = repo.active_signing_key(session, merchant_id)
    if active is not None:
        return active
    return _insert_or_reread(
        session,
        lambda: _add_new_key(session, merchant_id, FIRST_KEY_ID, now),
        lambda: repo.active_signing_key(session, merchant_id),
    )


def signing_key(record: TicketSigningKey) -> SigningKey:
    return SigningKey.from_text(record.private_key)


def rotate_key(session: Session, merchant_id: int, now: datetime) -> TicketSigningKey:
    """Make a new key active; the previous active key stays trusted until retired."""
    highest = repo.highest_key_id(session, merchant_id)
    next_id = FIRST_KEY_ID if highest is None else highest + 1
    if next_id > MAX_KEY_ID:
        raise Conflict("tickets.key_ids_exhausted")
    try:
        with session.begin_nested():
            new_key = _add_new_key(session, merchant_id, next_id, now)
    except IntegrityError as exc:
        # Another rotation took this id at the same moment: ask the caller to retry.
        raise Conflict("tickets.key_rotation_busy") from exc
    repo.demote_active_keys(session, merchant_id, except_key_id=new_key.key_id)
    trusted_keyrings.invalidate_on_commit(session, merchant_id)
    keys_changed.send(session, [merchant_id])
    return new_key


def get_key(session: Session, merchant_id: int, key_id: int) -> TicketSigningKey:
    key = repo.get_signing_key(session, merchant_id, key_id)
    if key is None:
        raise NotFound("tickets.key_not_found")
    return key


def retire_key_record(session: Session, key: TicketSigningKey, now: datetime) -> None:
    """Mark a key retired. The active key cannot be retired (rotate first)."""
    if key.state is SigningKeyState.ACTIVE:
        raise Conflict("tickets.key_active")
    if key.state is SigningKeyState.RETIRED:
        return
    repo.retire_signing_key(session, key, now)
    trusted_keyrings.invalidate_on_commit(session, key.merchant_id)
    keys_changed.send(session, [key.merchant_id])


def _add_new_key(
    session: Session, merchant_id: int, key_id: int, now: datetime
) -> TicketSigningKey:
    generated = SigningKey.generate(key_id)
    return repo.add_signing_key(
        session,
        TicketSigningKey(
            merchant_id=merchant_id,
            key_id=key_id,
            public_key=generated.public_key_text(),
            private_key=generated.to_text(),
            state=SigningKeyState.ACTIVE,
            created_at=now,
            retired_at=None,
        ),
    )


def _insert_or_reread(
    session: Session, insert: Callable[[], T], reread: Callable[[], T | None]
) -> T:
    try:
        with session.begin_nested():
            return insert()
    except IntegrityError:
        winner = reread()
        if winner is None:
            raise
        return winner
