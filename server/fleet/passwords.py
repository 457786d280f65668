"""Mosquitto-compatible password hashes (``mosquitto_passwd``'s ``$7$`` format) and kiosk
credentials.

Mosquitto 2 stores ``<user>:$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>``; the
server writes those lines itself (no ``mosquitto_passwd`` binary needed) and keeps the same hash
in the gate registry, so it can also check a kiosk's password on HTTP calls (the snapshot
endpoint). Mosquitto's own iteration count is 101: the passwords are 32 random bytes, so the
hash guards against nothing a slower one would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 101
#: A corrupt hash must not make one check take minutes.
MAX_ITERATIONS = 100_000
SALT_BYTES = 12
PASSWORD_BYTES = 24


class PasswordHashError(ValueError):
    """Text that is not a ``$7$`` hash."""


def new_password() -> str:
    """A random password for a kiosk: 32 URL-safe characters."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` hash Mosquitto accepts in its ``password_file``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${iterations}${encoded_salt}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches the ``$7$`` hash; raises PasswordHashError on bad hashes."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        raise PasswordHashError("not a $7$ hash")
    if not (parts[2].isascii() and parts[2].isdigit()) or not 0 < int(parts[2]) <= MAX_ITERATIONS:
        raise PasswordHashError("bad iteration count in a $7$ hash")
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        raise PasswordHashError("bad base64 in a $7$ hash") from None
    actual = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(actual, expected)
