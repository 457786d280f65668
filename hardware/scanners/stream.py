"""Keyboard-wedge scanners typing into a terminal: lines from stdin, a tty or a pipe."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from typing import Protocol

from hardware.scanners.lines import LineAssembler
from hardware.scanners.reader import CodeReader, ProblemCallback, ReaderError, log_problem

#: bytes read per system call at most
CHUNK_BYTES = 4096


class HasFileno(Protocol):
    def fileno(self) -> int: ...


class StreamReader(CodeReader):
    """Reads a file descriptor (``sys.stdin``, an opened tty, a pipe) without blocking past a
    timeout. The stream is not closed by :meth:`close` unless ``close_stream`` is set, so reading
    stdin leaves stdin alone.
    """

    def __init__(
        self,
        stream: HasFileno | int,
        *,
        assembler: LineAssembler | None = None,
        close_stream: bool = False,
        clock: Callable[[], float] = time.monotonic,
        on_problem: ProblemCallback = log_problem,
    ) -> None:
        super().__init__(assembler or LineAssembler(), clock=clock, on_problem=on_problem)
        try:
            self._fd = stream if isinstance(stream, int) else stream.fileno()
        except (OSError, ValueError) as exc:  # io.UnsupportedOperation: a stream without a fd
            raise ReaderError(f"the scanner stream has no file descriptor: {exc}") from exc
        self._close_stream = close_stream

    def _read_chunk(self, timeout: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                return b""
            data = os.read(self._fd, CHUNK_BYTES)
        except OSError as exc:
            raise ReaderError(f"reading the scanner stream failed: {exc}") from exc
        return data or None

    def _release(self) -> None:
        if self._close_stream:
            os.close(self._fd)


def open_tty_reader(
    path: str,
    *,
    assembler: LineAssembler | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_problem: ProblemCallback = log_problem,
) -> StreamReader:
    """A reader on a terminal device (e.g. ``/dev/tty1``); it closes the device on close()."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
    except OSError as exc:
        raise ReaderError(f"cannot open {path}: {exc.strerror}") from exc
    return StreamReader(
        fd, assembler=assembler, close_stream=True, clock=clock, on_problem=on_problem
    )
