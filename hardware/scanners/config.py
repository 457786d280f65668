"""The kiosk's ``[scanner]`` TOML table and the reader it asks for."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hardware.scanners.lines import LineAssembler, Terminator
from hardware.scanners.reader import CodeReader, ProblemCallback, log_problem

if TYPE_CHECKING:
    from hardware.scanners.stream import HasFileno


class ScannerKind(StrEnum):
    NONE = "none"
    #: keyboard-wedge scanner typing into the kiosk's terminal (stdin)
    STDIN = "stdin"
    #: keyboard-wedge scanner read from /dev/input (python-evdev)
    EVDEV = "evdev"
    #: UART or USB-serial QR module (pyserial)
    SERIAL = "serial"


class ScannerConfigError(ValueError):
    """The scanner configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid scanner configuration: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ScannerConfig:
    kind: ScannerKind = ScannerKind.NONE
    #: evdev: input device path; serial: port or pyserial URL
    device: str = ""
    baudrate: int = 9600
    terminator: Terminator = Terminator.ANY
    max_line_length: int = 512
    #: seconds of silence that drop an unfinished line
    partial_timeout: float = 0.5
    #: evdev: keep the scanner's keystrokes from reaching anything else
    grab: bool = True

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.kind in (ScannerKind.EVDEV, ScannerKind.SERIAL) and not self.device:
            problems.append(f"scanner kind {self.kind.value!r} needs a device")
        if self.baudrate <= 0:
            problems.append(f"baudrate must be positive, not {self.baudrate}")
        if self.max_line_length < 1:
            problems.append(f"max_line_length must be at least 1, not {self.max_line_length}")
        if not math.isfinite(self.partial_timeout) or self.partial_timeout <= 0:
            problems.append(
                f"partial_timeout must be more than 0 seconds, not {self.partial_timeout}"
            )
        if problems:
            raise ScannerConfigError(problems)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> ScannerConfig:
        """Build from a parsed TOML ``[scanner]`` table; unknown keys and wrong types are errors."""
        defaults = {field.name: field.default for field in fields(cls)}
        problems: list[str] = []
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in defaults:
                problems.append(f"unknown setting {key!r}")
                continue
            default = defaults[key]
            if isinstance(default, StrEnum):
                try:
                    values[key] = type(default)(value)
                except ValueError:
                    choices = ", ".join(repr(member.value) for member in type(default))
                    problems.append(f"{key} must be one of {choices}, not {value!r}")
            elif isinstance(default, bool | str):
                if not isinstance(value, type(default)):
                    problems.append(f"{key} must be a {type(default).__name__}, not {value!r}")
                else:
                    values[key] = value
            elif isinstance(default, int) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, int):
                    problems.append(f"{key} must be a whole number, not {value!r}")
                else:
                    values[key] = value
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{key} must be a number of seconds, not {value!r}")
            else:
                values[key] = float(value)
        if problems:
            raise ScannerConfigError(problems)
        return cls(**values)


def open_code_reader(
    config: ScannerConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    on_problem: ProblemCallback = log_problem,
    stdin: HasFileno | int | None = None,
) -> CodeReader | None:
    """The reader ``config`` asks for, or None for ``kind = "none"``.

    ``stdin`` (default ``sys.stdin``) is what a ``stdin`` scanner reads.

    Raises :class:`~hardware.scanners.reader.ReaderError` when the device or its library is
    missing.
    """
    assembler = LineAssembler(config.terminator, config.max_line_length, config.partial_timeout)
    if config.kind is ScannerKind.STDIN:
        from hardware.scanners.stream import StreamReader

        return StreamReader(
            sys.stdin if stdin is None else stdin,
            assembler=assembler,
            clock=clock,
            on_problem=on_problem,
        )
    if config.kind is ScannerKind.SERIAL:
        from hardware.scanners.serial_reader import open_serial_reader

        return open_serial_reader(
            config.device,
            config.baudrate,
            assembler=assembler,
            clock=clock,
            on_problem=on_problem,
        )
    if config.kind is ScannerKind.EVDEV:
        from hardware.scanners.evdev_reader import open_evdev_reader

        return open_evdev_reader(
            config.device,
            grab=config.grab,
            max_line_length=config.max_line_length,
            partial_timeout=config.partial_timeout,
            clock=clock,
            on_problem=on_problem,
        )
    return None
