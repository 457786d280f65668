"""Keyboard-wedge scanners read straight from a Linux input device (python-evdev, lazy import).

Reading /dev/input/eventN instead of a terminal works without a logged-in console, and grabbing
the device keeps the scanner's keystrokes away from everything else on the kiosk.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from hardware.scanners.keymap import KeyTranslator
from hardware.scanners.lines import LineAssembler, Terminator
from hardware.scanners.reader import CodeReader, ProblemCallback, ReaderError, log_problem

#: evdev's event type for key presses
EV_KEY = 1


class InputEvent(Protocol):
    type: int
    code: int
    value: int


class InputDevice(Protocol):
    """The part of ``evdev.InputDevice`` the reader uses."""

    fd: int

    def read(self) -> Iterable[InputEvent]: ...
    def grab(self) -> None: ...
    def ungrab(self) -> None: ...
    def close(self) -> None: ...


class EvdevReader(CodeReader):
    """Lines typed by a scanner on an input device; Enter ends a line (LF terminator)."""

    def __init__(
        self,
        device: InputDevice,
        *,
        grab: bool = True,
        max_line_length: int = 512,
        partial_timeout: float | None = 0.5,
        clock: Callable[[], float] = time.monotonic,
        on_problem: ProblemCallback = log_problem,
    ) -> None:
        super().__init__(
            LineAssembler(Terminator.LF, max_line_length, partial_timeout),
            clock=clock,
            on_problem=on_problem,
        )
        self._device = device
        self._translator = KeyTranslator()
        self._grabbed = False
        if grab:
            try:
                device.grab()
            except OSError as exc:
                raise ReaderError(f"cannot grab the scanner input device: {exc}") from exc
            self._grabbed = True

    def _read_chunk(self, timeout: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self._device.fd], [], [], timeout)
            if not ready:
                return b""
            events = list(self._device.read())
        except BlockingIOError:
            return b""
        except OSError as exc:  # ENODEV: the scanner was unplugged
            raise ReaderError(f"scanner input device failed: {exc}") from exc
        typed = (
            self._translator.feed(event.code, event.value)
            for event in events
            if event.type == EV_KEY
        )
        return "".join(char for char in typed if char is not None).encode("utf-8")

    def _release(self) -> None:
        try:
            if self._grabbed:
                self._device.ungrab()
        except OSError:
            pass  # the device is gone; nothing left to give back
        finally:
            self._device.close()


def open_evdev_reader(
    path: str,
    *,
    grab: bool = True,
    max_line_length: int = 512,
    partial_timeout: float | None = 0.5,
    clock: Callable[[], float] = time.monotonic,
    on_problem: ProblemCallback = log_problem,
) -> EvdevReader:
    """Open ``path`` (best a stable ``/dev/input/by-id/...-event-kbd`` name)."""
    try:
        import evdev
    except ImportError as exc:
        raise ReaderError(
            "evdev scanners need python-evdev: on Raspberry Pi OS 'sudo apt install "
            "python3-evdev' (venv with --system-site-packages), elsewhere 'pip install evdev'"
        ) from exc
    try:
        device = evdev.InputDevice(path)
    except OSError as exc:
        raise ReaderError(
            f"cannot open {path}: {exc.strerror} (the kiosk user needs the 'input' group)"
        ) from exc
    return EvdevReader(
        device,
        grab=grab,
        max_line_length=max_line_length,
        partial_timeout=partial_timeout,
        clock=clock,
        on_problem=on_problem,
    )
