"""Dedicated scan engines as code inputs: keyboard-wedge (stdin, tty, evdev) and serial modules.

Each backend module imports its library (pyserial, python-evdev) only when opened.
"""

from hardware.scanners.config import (
    ScannerConfig,
    ScannerConfigError,
    ScannerKind,
    open_code_reader,
)
from hardware.scanners.lines import (
    LineAssembler,
    ProblemKind,
    ReaderProblem,
    ScannedLine,
    Terminator,
)
from hardware.scanners.reader import (
    CodeReader,
    ProblemCallback,
    ReaderClosedError,
    ReaderError,
)

__all__ = [
    "CodeReader",
    "LineAssembler",
    "ProblemCallback",
    "ProblemKind",
    "ReaderClosedError",
    "ReaderError",
    "ReaderProblem",
    "ScannedLine",
    "ScannerConfig",
    "ScannerConfigError",
    "ScannerKind",
    "Terminator",
    "open_code_reader",
]
