"""The credentials accounts hand out and check: password hashes, bearer tokens, one-time codes.

Passwords use Argon2id (argon2-cffi). Tokens are 256 random bits; only their SHA-256 is stored,
which is enough for values that cannot be guessed. One-time codes are short, so they are stored
as an HMAC keyed with the server's secret: a copy of the table alone does not reveal them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "adm_"

_password_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_numeric_code(length: int) -> str:
    """A uniformly random code of ``length`` decimal digits (leading zeros allowed)."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def hash_code(secret_key: bytes, phone: str, code: str) -> str:
    """HMAC-SHA256 of phone and code, so a code is only valid for the phone it was sent to."""
    return hmac.new(secret_key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def codes_match(expected_hash: str, secret_key: bytes, phone: str, code: str) -> bool:
    return hmac.compare_digest(expected_hash, hash_code(secret_key, phone, code))


def new_password(length: int = 12) -> str:
    """A random password for accounts a platform admin creates or resets (shown once)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
