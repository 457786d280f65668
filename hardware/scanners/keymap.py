"""Linux key events -> characters, as a keyboard-wedge scanner types them (US layout).

Scanners "type" a code as key presses: shift down, key down, key up, shift up, ..., Enter. This
translator follows the shift and caps-lock state and turns presses into text; Enter ends the line.
A key it cannot map becomes SUB (U+001A, ASCII's "substitute for an invalid character"), which
the line parser refuses, so a code is never silently read with a character missing.
Key codes are the kernel's (linux/input-event-codes.h), so no evdev import is needed here.
"""

from __future__ import annotations

KEY_UP = 0
KEY_DOWN = 1
KEY_REPEAT = 2

KEY_ENTER = 28
KEY_KPENTER = 96
KEY_LEFTSHIFT = 42
KEY_RIGHTSHIFT = 54
KEY_CAPSLOCK = 58
#: modifiers and lock keys that type nothing (ctrl, alt, meta, num lock, scroll lock)
SILENT_KEYS = frozenset({29, 56, 69, 70, 97, 100, 125, 126})
#: what each key types as "\n"
ENTER_KEYS = frozenset({KEY_ENTER, KEY_KPENTER})
SUBSTITUTE = "\x1a"

# key code -> (unshifted, shifted), US layout
_ROW_KEYS: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"),
    7: ("6", "^"), 8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"),
    12: ("-", "_"), 13: ("=", "+"), 15: ("\t", "\t"),
    26: ("[", "{"), 27: ("]", "}"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"),
    43: ("\\", "|"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), 57: (" ", " "),
    # keypad (num lock assumed on, as scanners send it)
    55: ("*", "*"), 71: ("7", "7"), 72: ("8", "8"), 73: ("9", "9"), 74: ("-", "-"),
    75: ("4", "4"), 76: ("5", "5"), 77: ("6", "6"), 78: ("+", "+"), 79: ("1", "1"),
    80: ("2", "2"), 81: ("3", "3"), 82: ("0", "0"), 83: (".", "."), 98: ("/", "/"),
}  # fmt: skip
_LETTER_KEYS: dict[int, str] = {
    code: letter
    for codes, letters in (
        (range(16, 26), "qwertyuiop"),
        (range(30, 39), "asdfghjkl"),
        (range(44, 51), "zxcvbnm"),
    )
    for code, letter in zip(codes, letters, strict=True)
}


class KeyTranslator:
    """Feed it (key code, value) pairs of EV_KEY events; it returns what each one typed."""

    def __init__(self) -> None:
        self._shift_keys: set[int] = set()
        self._caps_lock = False

    def feed(self, code: int, value: int) -> str | None:
        """The character typed ("\\n" for Enter), or None if the event typed nothing."""
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            if value == KEY_UP:
                self._shift_keys.discard(code)
            else:
                self._shift_keys.add(code)
            return None
        if value not in (KEY_DOWN, KEY_REPEAT):
            return None
        if code == KEY_CAPSLOCK:
            if value == KEY_DOWN:
                self._caps_lock = not self._caps_lock
            return None
        if code in ENTER_KEYS:
            return "\n"
        if code in SILENT_KEYS:
            return None
        shifted = bool(self._shift_keys)
        letter = _LETTER_KEYS.get(code)
        if letter is not None:
            return letter.upper() if shifted != self._caps_lock else letter
        pair = _ROW_KEYS.get(code)
        if pair is not None:
            return pair[1] if shifted else pair[0]
        return SUBSTITUTE
