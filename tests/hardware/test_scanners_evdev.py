"""Key events to text, and the evdev reader on a stand-in input device fed through a pipe."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.scanners import ProblemKind, ReaderError, ReaderProblem
from hardware.scanners.evdev_reader import EV_KEY, EvdevReader, open_evdev_reader
from hardware.scanners.keymap import (
    KEY_CAPSLOCK,
    KEY_DOWN,
    KEY_ENTER,
    KEY_LEFTSHIFT,
    KEY_RIGHTSHIFT,
    KEY_UP,
    KeyTranslator,
)

# main-row keys a US-layout scanner presses: char -> (code, shift)
US_KEYS: dict[str, tuple[int, bool]] = {}
for _codes, _plain, _shifted in (
    (range(2, 14), "1234567890-=", "!@#$%^&*()_+"),
    (range(16, 28), "qwertyuiop[]", "QWERTYUIOP{}"),
    (range(30, 42), "asdfghjkl;'`", 'ASDFGHJKL:"~'),
    (range(43, 54), "\\zxcvbnm,./", "|ZXCVBNM<>?"),
):
    for _code, _p, _s in zip(_codes, _plain, _shifted, strict=True):
        US_KEYS[_p] = (_code, False)
        US_KEYS[_s] = (_code, True)
US_KEYS[" "] = (57, False)


@dataclass
class Event:
    code: int
    value: int
    type: int = EV_KEY


def press(char: str) -> list[Event]:
    """The events a scanner sends to type ``char``: shift around it when needed."""
    code, shift = US_KEYS[char]
    keys = [Event(code, KEY_DOWN), Event(code, KEY_UP)]
    if shift:
        return [Event(KEY_LEFTSHIFT, KEY_DOWN), *keys, Event(KEY_LEFTSHIFT, KEY_UP)]
    return keys


def type_line(text: str) -> list[Event]:
    events = [event for char in text for event in press(char)]
    return [*events, Event(KEY_ENTER, KEY_DOWN), Event(KEY_ENTER, KEY_UP)]


def translate(events: list[Event]) -> str:
    translator = KeyTranslator()
    typed = (translator.feed(event.code, event.value) for event in events)
    return "".join(char for char in typed if char is not None)


@given(st.text(st.sampled_from(sorted(US_KEYS)), max_size=60))
def test_typed_text_round_trips(text: str) -> None:
    assert translate(type_line(text)) == text + "\n"


def test_caps_lock_inverts_letters_not_digits() -> None:
    events = [Event(KEY_CAPSLOCK, KEY_DOWN), Event(KEY_CAPSLOCK, KEY_UP)]
    events += press("a") + press("A") + press("1")
    assert translate(events) == "Aa1"


def test_either_shift_counts_until_both_are_released() -> None:
    events = [Event(KEY_LEFTSHIFT, KEY_DOWN), Event(KEY_RIGHTSHIFT, KEY_DOWN)]
    events += [Event(KEY_LEFTSHIFT, KEY_UP), *press("a")[:2], Event(KEY_RIGHTSHIFT, KEY_UP)]
    events += press("a")
    assert translate(events) == "Aa"


def test_keypad_digits_and_keypad_enter() -> None:
    assert translate([Event(79, KEY_DOWN), Event(82, KEY_DOWN), Event(96, KEY_DOWN)]) == "10\n"


def test_modifiers_type_nothing_and_unknown_keys_are_substituted() -> None:
    assert translate([Event(29, KEY_DOWN), Event(56, KEY_DOWN)]) == ""
    assert translate([Event(59, KEY_DOWN)]) == "\x1a"  # F1


class PipeDevice:
    """Stands in for evdev.InputDevice: readable fd, queued events."""

    def __init__(self) -> None:
        self.fd, self._wake = os.pipe()
        self.queue: list[Event] = []
        self.grabbed = False
        self.closed = False

    def send(self, events: list[Event]) -> None:
        self.queue.extend(events)
        os.write(self._wake, b"x")

    def read(self) -> list[Event]:
        os.read(self.fd, 4096)
        events, self.queue = self.queue, []
        return events

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True
        os.close(self.fd)
        os.close(self._wake)


def test_evdev_reader_turns_key_events_into_lines() -> None:
    device = PipeDevice()
    reported: list[ReaderProblem] = []
    reader = EvdevReader(device, on_problem=reported.append)
    assert device.grabbed
    device.send([*type_line("ADMIT1:Ab-9"), Event(0, 0, type=0), *press("x")])
    device.send([Event(59, KEY_DOWN), Event(KEY_ENTER, KEY_DOWN), *type_line("1234 5678")])
    first, second = reader.read(timeout=5), reader.read(timeout=5)
    assert first is not None and first.text == "ADMIT1:Ab-9"
    assert second is not None and second.text == "1234 5678"
    assert [problem.kind for problem in reported] == [ProblemKind.CONTROL_CHARACTERS]
    reader.close()
    assert device.closed and not device.grabbed


def test_missing_evdev_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(ReaderError, match="apt install python3-evdev"):
        open_evdev_reader("/dev/input/event0")
