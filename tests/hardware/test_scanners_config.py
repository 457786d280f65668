from __future__ import annotations

import io
import os
import tomllib
from pathlib import Path

import pytest

from hardware.scanners import (
    ReaderError,
    ScannerConfig,
    ScannerConfigError,
    ScannerKind,
    Terminator,
    open_code_reader,
)
from hardware.scanners.serial_reader import SerialReader
from hardware.scanners.stream import StreamReader

KIOSK_TOML = Path(__file__).resolve().parents[2] / "deploy" / "kiosk" / "kiosk.toml"


def test_example_kiosk_toml_scanner_table_is_the_defaults() -> None:
    table = tomllib.loads(KIOSK_TOML.read_text(encoding="utf-8"))["scanner"]
    assert ScannerConfig.from_table(table) == ScannerConfig()


def test_from_table_converts_values() -> None:
    config = ScannerConfig.from_table(
        {"kind": "serial", "device": "/dev/serial0", "baudrate": 115200, "terminator": "cr",
         "partial_timeout": 1}
    )  # fmt: skip
    assert config.kind is ScannerKind.SERIAL
    assert config.terminator is Terminator.CR
    assert config.partial_timeout == 1.0


def test_from_table_lists_every_problem() -> None:
    with pytest.raises(ScannerConfigError) as caught:
        ScannerConfig.from_table(
            {"kind": "bluetooth", "baud": 9600, "baudrate": "fast", "grab": "yes",
             "partial_timeout": True}
        )  # fmt: skip
    problems = "; ".join(caught.value.problems)
    assert "kind must be one of 'none', 'stdin', 'evdev', 'serial'" in problems
    assert "unknown setting 'baud'" in problems
    assert "baudrate must be a whole number" in problems
    assert "grab must be a bool" in problems
    assert "partial_timeout must be a number of seconds" in problems


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kind": ScannerKind.SERIAL}, "needs a device"),
        ({"baudrate": 0}, "baudrate must be positive"),
        ({"max_line_length": 0}, "max_line_length"),
        ({"partial_timeout": 0.0}, "partial_timeout"),
    ],
)
def test_invalid_values_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ScannerConfigError, match=message):
        ScannerConfig(**settings)  # type: ignore[arg-type]


def test_open_code_reader_builds_each_kind() -> None:
    assert open_code_reader(ScannerConfig()) is None
    serial_reader = open_code_reader(ScannerConfig(kind=ScannerKind.SERIAL, device="loop://"))
    assert isinstance(serial_reader, SerialReader)
    serial_reader.close()
    read_end, write_end = os.pipe()
    stdin_reader = open_code_reader(ScannerConfig(kind=ScannerKind.STDIN), stdin=read_end)
    assert isinstance(stdin_reader, StreamReader)
    os.write(write_end, b"CODE\n")
    line = stdin_reader.read(timeout=5)
    assert line is not None and line.text == "CODE"
    stdin_reader.close()
    os.close(read_end)
    os.close(write_end)


def test_stdin_without_a_file_descriptor_is_a_reader_error() -> None:
    with pytest.raises(ReaderError, match="no file descriptor"):
        open_code_reader(ScannerConfig(kind=ScannerKind.STDIN), stdin=io.BytesIO())
