"""The serial reader on pyserial's loop:// port: a real Serial object, no hardware."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.scanners import (
    LineAssembler,
    ProblemKind,
    ReaderClosedError,
    ReaderError,
    ReaderProblem,
    Terminator,
)
from hardware.scanners.serial_reader import SerialReader, open_serial_reader


class FakeClock:
    """Readers stamp lines with this; it moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loop() -> Iterator[tuple[SerialReader, serial.SerialBase, list[ReaderProblem]]]:
    reported: list[ReaderProblem] = []
    port = serial.serial_for_url("loop://", baudrate=9600, timeout=0)
    reader = SerialReader(
        port, assembler=LineAssembler(max_line_length=32), on_problem=reported.append
    )
    yield reader, port, reported
    reader.close()


def test_reads_a_line_with_its_terminator_stripped(
    loop: tuple[SerialReader, serial.SerialBase, list[ReaderProblem]],
) -> None:
    reader, port, _ = loop
    port.write(b"ADMIT1:ABC123\r\n")
    line = reader.read(timeout=5)
    assert line is not None and line.text == "ADMIT1:ABC123"


def test_timeout_without_input_returns_none(
    loop: tuple[SerialReader, serial.SerialBase, list[ReaderProblem]],
) -> None:
    reader, _, _ = loop
    assert reader.read(timeout=0) is None


def test_garbage_is_reported_and_reading_goes_on(
    loop: tuple[SerialReader, serial.SerialBase, list[ReaderProblem]],
) -> None:
    reader, port, reported = loop
    port.write(b"\x00\xff\xfe\r" + b"9" * 100 + b"\r123456789012\r")
    line = reader.read(timeout=5)
    assert line is not None and line.text == "123456789012"
    assert [problem.kind for problem in reported] == [
        ProblemKind.UNDECODABLE,
        ProblemKind.TOO_LONG,
    ]


def test_unfinished_line_is_dropped_after_silence() -> None:
    clock = FakeClock()
    reported: list[ReaderProblem] = []
    port = serial.serial_for_url("loop://", timeout=0)
    reader = SerialReader(port, clock=clock, on_problem=reported.append)
    port.write(b"HALF")
    assert reader.read(timeout=0) is None
    clock.now += 1.0
    assert reader.read(timeout=0) is None
    assert [problem.kind for problem in reported] == [ProblemKind.INCOMPLETE]
    port.write(b"WHOLE\n")
    line = reader.read(timeout=5)
    assert line is not None and (line.text, line.at) == ("WHOLE", 101.0)
    reader.close()


def test_close_from_another_thread_ends_iteration() -> None:
    port = serial.serial_for_url("loop://", timeout=0)
    reader = SerialReader(port)
    port.write(b"ONE\nTWO\n")
    seen: list[str] = []

    def consume() -> None:
        for line in reader:
            seen.append(line.text)

    thread = threading.Thread(target=consume)
    thread.start()
    while len(seen) < 2:
        thread.join(0.01)
    reader.close()
    thread.join(10)
    assert not thread.is_alive()
    assert seen == ["ONE", "TWO"]
    assert not port.is_open
    with pytest.raises(ReaderClosedError):
        reader.read(timeout=0)


def test_a_failing_port_raises_a_typed_error() -> None:
    port = serial.serial_for_url("loop://", timeout=0)
    reader = SerialReader(port)
    port.close()
    with pytest.raises(ReaderError, match="serial scanner"):
        reader.read(timeout=0)


def test_open_serial_reader_names_a_missing_port() -> None:
    with pytest.raises(ReaderError, match="cannot open serial scanner /dev/does-not-exist"):
        open_serial_reader("/dev/does-not-exist")


def test_open_serial_reader_opens_a_url() -> None:
    reader = open_serial_reader(
        "loop://", 115200, assembler=LineAssembler(Terminator.CR, max_line_length=8)
    )
    assert reader.read(timeout=0) is None
    reader.close()


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_on_the_wire_never_stop_the_reader(noise: bytes) -> None:
    port = serial.serial_for_url("loop://", timeout=0)
    reader = SerialReader(
        port, assembler=LineAssembler(max_line_length=32), on_problem=lambda _: None
    )
    port.write(noise + b"\nSENTINEL\n")
    texts = []
    while (line := reader.read(timeout=5)) is not None:
        texts.append(line.text)
        if line.text == "SENTINEL":
            break
    reader.close()
    assert texts[-1] == "SENTINEL"
