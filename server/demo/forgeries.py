"""Forged ticket credentials for the demo: what a gate must refuse.

- :func:`signed_by_stranger`: a real ticket's claims signed by a key the gates do not hold, under
  a key id they do not trust (``unknown_key``) or under the genuine key id (``bad_signature``);
- :func:`one_character_changed`: a genuine credential with one character replaced, chosen so the
  text still parses and the signature no longer matches (``bad_signature``), the way a hand-edited
  screenshot fails.

Pure apart from generating throwaway keys; the random source is passed in.
"""

from __future__ import annotations

import random

from protocol import reasons
from protocol.credential import MAX_KEY_ID, TicketClaims, parse
from protocol.reasons import Rejection
from protocol.signing import Keyring, SigningKey, sign_ticket, verify_ticket

#: QR alphanumeric characters (base45's alphabet): a tampered text stays scannable.
BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


class ForgeryError(ValueError):
    """The credential cannot be used as the base of a forgery."""


def _claims(credential: str) -> TicketClaims:
    parsed = parse(credential)
    if isinstance(parsed, Rejection):
        raise ForgeryError(f"not a credential ({parsed.reason}): {credential!r}")
    return parsed.claims


def untrusted_key_id(keyring: Keyring) -> int:
    """The highest key id the keyring neither trusts nor lists as retired."""
    for key_id in range(MAX_KEY_ID, 0, -1):
        if key_id not in keyring and not keyring.is_retired(key_id):
            return key_id
    raise ForgeryError("every key id is taken")


def signed_by_stranger(credential: str, key_id: int) -> str:
    """The same claims signed by a freshly generated key with id ``key_id``."""
    claims = _claims(credential)
    forged = TicketClaims(
        claims.ticket_id,
        claims.event_id,
        claims.zone,
        claims.valid_from,
        claims.valid_until,
        claims.entries,
        key_id,
    )
    return sign_ticket(forged, SigningKey.generate(key_id))


def one_character_changed(credential: str, keyring: Keyring, rng: random.Random) -> str:
    """``credential`` with one character replaced so that it fails with ``bad_signature``."""
    _claims(credential)
    positions = list(range(len(credential)))
    rng.shuffle(positions)
    for position in positions:
        replacements = [c for c in BASE45_ALPHABET if c != credential[position]]
        rng.shuffle(replacements)
        for replacement in replacements:
            forged = credential[:position] + replacement + credential[position + 1 :]
            verdict = verify_ticket(forged, keyring)
            if isinstance(verdict, Rejection) and verdict.reason == reasons.BAD_SIGNATURE:
                return forged
    raise ForgeryError("no single-character change gives a bad signature")
