"""The one interface every code input offers, and the read loop they share."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator

from hardware.scanners.lines import LineAssembler, ReaderProblem, ScannedLine

log = logging.getLogger(__name__)

ProblemCallback = Callable[[ReaderProblem], None]
#: longest a blocking read waits before it looks again at timeouts and at close()
POLL_INTERVAL = 0.1


class ReaderError(RuntimeError):
    """The input device failed (unplugged, permission denied, missing library)."""


class ReaderClosedError(Exception):
    """The reader was closed or its input ended; no more lines will come."""


def log_problem(problem: ReaderProblem) -> None:
    log.warning("scanner input dropped (%s): %s %r", problem.kind, problem.detail, problem.raw)


class CodeReader(ABC):
    """Scanned lines from a dedicated scan engine.

    ``read(timeout)`` returns the next :class:`ScannedLine`, or None when ``timeout`` seconds pass
    without one; iterating yields lines until the reader is closed or its input ends. Input that
    is not a line goes to ``on_problem`` and reading goes on. ``close()`` may be called from
    another thread; a blocked ``read`` notices within :data:`POLL_INTERVAL`.
    """

    def __init__(
        self,
        assembler: LineAssembler,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_problem: ProblemCallback = log_problem,
    ) -> None:
        self._assembler = assembler
        self._clock = clock
        self._on_problem = on_problem
        self._lines: deque[ScannedLine] = deque()
        self._closed = False
        self._released = False
        self._reading = threading.Lock()

    @abstractmethod
    def _read_chunk(self, timeout: float) -> bytes | None:
        """Bytes received within ``timeout`` (b"" if none), or None at end of input."""

    @abstractmethod
    def _release(self) -> None:
        """Give the device back (called once, never while a read is in progress)."""

    @property
    def closed(self) -> bool:
        return self._closed

    def read(self, timeout: float | None = None) -> ScannedLine | None:
        """The next line, or None after ``timeout`` seconds (None: wait as long as it takes)."""
        with self._reading:
            deadline = None if timeout is None else self._clock() + timeout
            while True:
                if self._lines:
                    return self._lines.popleft()
                if self._closed:
                    self._release_once()
                    raise ReaderClosedError("reader closed")
                wait = POLL_INTERVAL
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - self._clock()))
                chunk = self._read_chunk(wait)
                now = self._clock()
                if chunk is None:
                    self._report(self._assembler.drop_partial(now))
                    self._closed = True
                    continue
                if chunk:
                    for result in self._assembler.feed(chunk, now):
                        if isinstance(result, ScannedLine):
                            self._lines.append(result)
                        else:
                            self._report(result)
                else:
                    self._report(self._assembler.expire(now))
                if not self._lines and deadline is not None and now >= deadline:
                    return None

    def __iter__(self) -> Iterator[ScannedLine]:
        while True:
            try:
                line = self.read()
            except ReaderClosedError:
                return
            if line is not None:
                yield line

    def close(self) -> None:
        self._closed = True
        if self._reading.acquire(blocking=False):
            try:
                self._release_once()
            finally:
                self._reading.release()

    def __enter__(self) -> CodeReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _release_once(self) -> None:
        if not self._released:
            self._released = True
            self._release()

    def _report(self, problem: ReaderProblem | None) -> None:
        if problem is None:
            return
        try:
            self._on_problem(problem)
        except Exception:
            log.exception("scanner problem callback failed")
