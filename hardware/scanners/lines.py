"""Turn the bytes a scan engine sends into scanned lines: a pure parser, the clock passed in.

Scanners end each code with a terminator (CR, LF or CRLF). Between scans the line may be noisy:
a framing error on a UART shows up as a NUL or an invalid byte, a half-sent scan stops without a
terminator, a stuck module streams without end. Every such case becomes a :class:`ReaderProblem`
and the parser carries on with the next line; a line never grows past ``max_line_length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CR = 0x0D
LF = 0x0A
#: at most this many bytes of a bad line are kept in a problem report
RAW_SAMPLE_BYTES = 64


class Terminator(StrEnum):
    #: CR, LF or CRLF each end a line (empty lines are ignored)
    ANY = "any"
    CR = "cr"
    LF = "lf"
    #: only CR followed by LF ends a line; a lone CR is data (and makes the line garbage)
    CRLF = "crlf"


class ProblemKind(StrEnum):
    #: not valid UTF-8
    UNDECODABLE = "undecodable"
    #: control characters inside the line (framing errors, unmapped keys)
    CONTROL_CHARACTERS = "control_characters"
    #: longer than ``max_line_length``; the rest up to the next terminator is dropped too
    TOO_LONG = "too_long"
    #: bytes stopped arriving before a terminator
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class ScannedLine:
    """One scanned code, terminator stripped; ``at`` is the reader's clock when it ended."""

    text: str
    at: float


@dataclass(frozen=True, slots=True)
class ReaderProblem:
    """Input that did not make a line; ``raw`` holds its first bytes for the log."""

    kind: ProblemKind
    detail: str
    raw: bytes
    at: float


class LineAssembler:
    """Collects bytes into lines. Not thread-safe: one reader owns one assembler."""

    def __init__(
        self,
        terminator: Terminator = Terminator.ANY,
        max_line_length: int = 512,
        partial_timeout: float | None = 0.5,
    ) -> None:
        if max_line_length < 1:
            raise ValueError("max_line_length must be at least 1")
        if partial_timeout is not None and partial_timeout <= 0:
            raise ValueError("partial_timeout must be more than 0 seconds (or None)")
        self._terminator = terminator
        self._max = max_line_length
        self._partial_timeout = partial_timeout
        self._buffer = bytearray()
        self._discarding = False
        self._cr_pending = False
        self._last_byte_at: float | None = None

    @property
    def has_partial(self) -> bool:
        """Whether bytes of an unfinished line are waiting (or an overlong one is being skipped)."""
        return bool(self._buffer) or self._discarding or self._cr_pending

    def feed(self, data: bytes, now: float) -> list[ScannedLine | ReaderProblem]:
        """Add bytes received at ``now``; return the lines and problems they complete."""
        results: list[ScannedLine | ReaderProblem] = []
        expired = self.expire(now)
        if expired is not None:
            results.append(expired)
        if data:
            self._last_byte_at = now
        for byte in data:
            if self._terminator is Terminator.CRLF:
                if self._cr_pending:
                    self._cr_pending = False
                    if byte == LF:
                        self._end_line(now, results)
                        continue
                    self._append(CR, now, results)
                if byte == CR:
                    self._cr_pending = True
                    continue
            elif self._ends_line(byte):
                self._end_line(now, results)
                continue
            self._append(byte, now, results)
        return results

    def expire(self, now: float) -> ReaderProblem | None:
        """Drop an unfinished line that has been silent for ``partial_timeout``."""
        if (
            self._partial_timeout is None
            or self._last_byte_at is None
            or not self.has_partial
            or now - self._last_byte_at < self._partial_timeout
        ):
            return None
        return self.drop_partial(now)

    def drop_partial(self, now: float) -> ReaderProblem | None:
        """Forget an unfinished line (end of input, timeout); report it unless it was skipped."""
        raw = bytes(self._buffer) + (b"\r" if self._cr_pending else b"")
        was_discarding = self._discarding
        self._reset()
        if was_discarding or not raw:
            return None
        return ReaderProblem(
            ProblemKind.INCOMPLETE, "no line terminator", raw[:RAW_SAMPLE_BYTES], now
        )

    def _ends_line(self, byte: int) -> bool:
        if self._terminator is Terminator.ANY:
            return byte in (CR, LF)
        return byte == (CR if self._terminator is Terminator.CR else LF)

    def _append(self, byte: int, now: float, results: list[ScannedLine | ReaderProblem]) -> None:
        if self._discarding:
            return
        if len(self._buffer) >= self._max:
            results.append(
                ReaderProblem(
                    ProblemKind.TOO_LONG,
                    f"line longer than {self._max} bytes",
                    bytes(self._buffer[:RAW_SAMPLE_BYTES]),
                    now,
                )
            )
            self._buffer.clear()
            self._discarding = True
            return
        self._buffer.append(byte)

    def _end_line(self, now: float, results: list[ScannedLine | ReaderProblem]) -> None:
        raw = bytes(self._buffer)
        was_discarding = self._discarding
        self._reset()
        if was_discarding or not raw:
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            results.append(
                ReaderProblem(ProblemKind.UNDECODABLE, str(exc), raw[:RAW_SAMPLE_BYTES], now)
            )
            return
        if any(_is_control(char) for char in text):
            results.append(
                ReaderProblem(
                    ProblemKind.CONTROL_CHARACTERS,
                    "control characters in the line",
                    raw[:RAW_SAMPLE_BYTES],
                    now,
                )
            )
            return
        results.append(ScannedLine(text, now))

    def _reset(self) -> None:
        self._buffer.clear()
        self._discarding = False
        self._cr_pending = False


def _is_control(char: str) -> bool:
    """C0 controls (but tab), DEL and C1 controls: never part of a ticket code."""
    code = ord(char)
    return (code < 0x20 and char != "\t") or 0x7F <= code <= 0x9F
