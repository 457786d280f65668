"""12-digit verification codes for typing by hand and reading aloud (MicroPython core).

A code is 11 digits plus a Damm check digit. Damm's quasigroup catches every single-digit error
and every transposition of two adjacent digits (the two commonest typing and dictation slips),
with no extra check characters like the "X" of ISBN-10. Codes are shown in three groups of four:
``1234 5678 9012``.

Visitors in China often type with a full-width input method, so ``normalize`` accepts
full-width digits (U+FF10..U+FF19) and the common full-width/typographic separators as well as
ASCII ones.
"""

try:
    from secrets import token_bytes as _random_bytes
except ImportError:  # MicroPython: no secrets module; its os.urandom is the system CSPRNG
    from os import urandom as _random_bytes  # type: ignore[assignment]

CODE_LENGTH = 12
#: How many distinct codes exist: the 11 free digits.
CODE_SPACE = 10**11
#: Inputs longer than this are not codes; rejected before any per-character work.
MAX_INPUT_LENGTH = 64

# Damm's totally anti-symmetric quasigroup of order 10 (Damm 2004, as tabulated on Wikipedia).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

#: Separators people type or paste: ASCII space/tab/hyphen, the ideographic space, the
#: full-width hyphen-minus, typographic hyphens and dashes, and the minus sign.
_SEPARATORS = " \t-\u3000\uff0d\u2010\u2011\u2012\u2013\u2014\u2212"
_FULL_WIDTH_ZERO = 0xFF10


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of ASCII digits."""
    interim = 0
    for char in digits:
        interim = _DAMM[interim][ord(char) - 48]
    return chr(48 + interim)


def new_code(number: int) -> str:
    """The code for ``number`` in 0..CODE_SPACE-1 (the caller supplies the randomness)."""
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < CODE_SPACE:
        raise ValueError(f"code number must be in 0..{CODE_SPACE - 1}, got {number!r}")
    body = str(number)
    body = "0" * (CODE_LENGTH - 1 - len(body)) + body
    return body + check_digit(body)


def random_code() -> str:
    """A uniformly random code from the system's CSPRNG."""
    # 5 random bytes cover 0..2**40-1; keep only values below the largest multiple of
    # CODE_SPACE so that ``% CODE_SPACE`` is exactly uniform (rejects < 10% of draws).
    bound = (1 << 40) // CODE_SPACE * CODE_SPACE
    while True:
        value = int.from_bytes(_random_bytes(5), "big")
        if value < bound:
            return new_code(value % CODE_SPACE)


def normalize(text: object) -> str | None:
    """The 12 ASCII digits of a typed code, or None if it does not have exactly 12 digits.

    Drops separators (spaces, hyphens, dashes, ASCII or full-width) and maps full-width digits
    to ASCII. Does not check the check digit (``is_valid`` does), so callers can tell a
    mistyped code (``bad_check_digit``) from input that is not a code at all (``malformed``).
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        return None
    digits = []
    for char in text:
        if "0" <= char <= "9":
            digits.append(char)
        elif "\uff10" <= char <= "\uff19":
            digits.append(chr(ord(char) - _FULL_WIDTH_ZERO + 48))
        elif char not in _SEPARATORS:
            return None
    if len(digits) != CODE_LENGTH:
        return None
    return "".join(digits)


def is_valid(text: object) -> bool:
    """True if ``text`` normalizes to 12 digits whose Damm check passes."""
    code = normalize(text)
    return code is not None and check_digit(code) == "0"


def format_code(code: str) -> str:
    """``"123456789012"`` (or any form ``normalize`` accepts) as ``"1234 5678 9012"``."""
    digits = normalize(code)
    if digits is None:
        raise ValueError(f"not a 12-digit code: {code!r}")
    return digits[0:4] + " " + digits[4:8] + " " + digits[8:12]
