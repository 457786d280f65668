"""RFC 9285 base45: bytes as text in the QR code alphanumeric character set (MicroPython core).

Every two bytes become three characters (a lone last byte becomes two), using exactly the 45
characters a QR code can store at 5.5 bits each, so a base45 text takes a smaller QR symbol than
base64 in byte mode.

The decoder is strict: a character outside the alphabet (including lowercase), a length that
leaves one character over, or a group whose value does not fit its bytes raises ``ValueError``.
Together with the fixed grouping this makes the encoding a bijection: every byte string has
exactly one text and every accepted text exactly one byte string.
"""

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

_VALUES: dict[str, int] = {}
for _index in range(len(ALPHABET)):
    _VALUES[ALPHABET[_index]] = _index
del _index


def encode(data: bytes) -> str:
    """Encode ``data`` as base45 text."""
    out = []
    length = len(data)
    index = 0
    while index + 1 < length:
        value = data[index] * 256 + data[index + 1]
        out.append(ALPHABET[value % 45])
        value //= 45
        out.append(ALPHABET[value % 45])
        out.append(ALPHABET[value // 45])
        index += 2
    if index < length:
        value = data[index]
        out.append(ALPHABET[value % 45])
        out.append(ALPHABET[value // 45])
    return "".join(out)


def decode(text: str) -> bytes:
    """Decode base45 ``text``; raises ``ValueError`` if it is not canonical base45."""
    length = len(text)
    if length % 3 == 1:
        raise ValueError(f"base45 length {length} leaves one character over")
    values = _VALUES
    out = bytearray()
    end = length - length % 3
    try:
        for index in range(0, end, 3):
            value = (
                values[text[index]] + 45 * values[text[index + 1]] + 2025 * values[text[index + 2]]
            )
            if value > 0xFFFF:
                raise ValueError(f"base45 group at {index} exceeds two bytes")
            out.append(value >> 8)
            out.append(value & 0xFF)
        if end < length:
            value = values[text[end]] + 45 * values[text[end + 1]]
            if value > 0xFF:
                raise ValueError("base45 final group exceeds one byte")
            out.append(value)
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the base45 alphabet") from None
    return bytes(out)
