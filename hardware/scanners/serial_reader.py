"""Serial (UART or USB-serial) QR modules through pyserial, imported only when chosen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hardware.scanners.lines import LineAssembler
from hardware.scanners.reader import CodeReader, ProblemCallback, ReaderError, log_problem

if TYPE_CHECKING:
    from serial import SerialBase


class SerialReader(CodeReader):
    """Reads an open pyserial port. Garbage between scans (framing errors, noise while a module
    boots) becomes problem reports; the port is closed on :meth:`close`.
    """

    def __init__(
        self,
        port: SerialBase,
        *,
        assembler: LineAssembler | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_problem: ProblemCallback = log_problem,
    ) -> None:
        super().__init__(assembler or LineAssembler(), clock=clock, on_problem=on_problem)
        self._port = port

    def _read_chunk(self, timeout: float) -> bytes | None:
        from serial import SerialException

        try:
            if self._port.timeout != timeout:  # each change reconfigures a real port
                self._port.timeout = timeout
            first: bytes = self._port.read(1)
            if not first:
                return b""
            waiting: int = self._port.in_waiting
            rest: bytes = self._port.read(waiting) if waiting else b""
            return first + rest
        except (SerialException, OSError) as exc:
            raise ReaderError(f"serial scanner on {self._port.name} failed: {exc}") from exc

    def _release(self) -> None:
        self._port.close()


def open_serial_reader(
    url: str,
    baudrate: int = 9600,
    *,
    assembler: LineAssembler | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_problem: ProblemCallback = log_problem,
) -> SerialReader:
    """Open ``url`` (``/dev/serial0``, ``/dev/ttyACM0``, or any pyserial URL like ``loop://``)."""
    try:
        import serial
    except ImportError as exc:
        raise ReaderError("serial scanners need pyserial: pip install 'admit[kiosk]'") from exc
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0)
    except (serial.SerialException, ValueError) as exc:
        raise ReaderError(f"cannot open serial scanner {url}: {exc}") from exc
    return SerialReader(port, assembler=assembler, clock=clock, on_problem=on_problem)
