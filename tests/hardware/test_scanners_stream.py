"""The keyboard-wedge stream reader on a real pipe."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from hardware.scanners import ProblemKind, ReaderError, ReaderProblem
from hardware.scanners.stream import StreamReader, open_tty_reader


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):  # some tests close their end themselves
            os.close(fd)


def texts(reader: StreamReader) -> list[str]:
    return [line.text for line in reader]


def test_reads_lines_typed_into_the_stream(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    reader = StreamReader(read_end)
    os.write(write_end, b"1234 5678 9012\nADMIT1:XYZ\r\n")
    first, second = reader.read(timeout=5), reader.read(timeout=5)
    assert first is not None and first.text == "1234 5678 9012"
    assert second is not None and second.text == "ADMIT1:XYZ"
    assert reader.read(timeout=0) is None


def test_end_of_input_ends_iteration_and_reports_an_unfinished_line(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    reported: list[ReaderProblem] = []
    reader = StreamReader(read_end, on_problem=reported.append)
    os.write(write_end, b"ONE\nTWO\nTHR")
    os.close(write_end)
    assert texts(reader) == ["ONE", "TWO"]
    assert [(problem.kind, problem.raw) for problem in reported] == [
        (ProblemKind.INCOMPLETE, b"THR")
    ]


def test_close_leaves_a_borrowed_stream_open(pipe: tuple[int, int]) -> None:
    read_end, _ = pipe
    StreamReader(read_end).close()
    os.fstat(read_end)  # still open: stdin is not ours to close


def test_close_stream_closes_it(pipe: tuple[int, int]) -> None:
    read_end, _ = pipe
    StreamReader(read_end, close_stream=True).close()
    with pytest.raises(OSError):
        os.fstat(read_end)


def test_a_failing_problem_callback_does_not_stop_reading(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe

    def broken(problem: ReaderProblem) -> None:
        raise RuntimeError("broken callback")

    reader = StreamReader(read_end, on_problem=broken)
    os.write(write_end, b"\xff\nOK\n")
    line = reader.read(timeout=5)
    assert line is not None and line.text == "OK"


def test_open_tty_reader_names_a_missing_device() -> None:
    with pytest.raises(ReaderError, match="cannot open /dev/no-such-tty"):
        open_tty_reader("/dev/no-such-tty")
