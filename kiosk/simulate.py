"""A kiosk with simulated hardware, for ``admit kiosk run --simulate``, the demo and tests.

- :class:`TicketCamera`: a synthetic camera that shows the ticket texts handed to it, each on a
  rendered phone screen for a few frames (a visitor holding up the phone), and otherwise waits
  without burning CPU;
- GPIO on gpiozero's ``MockFactory``;
- :class:`Walker`: a fake visitor who, after the gate opens, walks through (drives the passage
  sensor pin) with a given probability, or walks away so the admission is annulled.

:class:`SimulatedKiosk` runs one in this process (``show(text)`` feeds the camera);
:class:`SimulatedKioskProcess` runs ``admit kiosk run --simulate`` as a subprocess whose camera
is fed one ticket text per line of its standard input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from gpiozero import Factory

from hardware.decoders import open_decoder
from hardware.frames import Frame, FrameSource, open_frame_source
from hardware.frames.scene import MILD
from hardware.frames.synthetic import SyntheticSource
from hardware.gate import Gate, GateConfig, ThreadScheduler
from hardware.pins import make_pin_factory
from kiosk.app import Hardware, Kiosk, ScanOutcome
from kiosk.config import KioskConfig

log = logging.getLogger(__name__)


class TicketCamera:
    """Synthetic frames of the phones shown to it; ``read()`` is None while nobody is there."""

    def __init__(
        self,
        *,
        seed: int = 0,
        frames_per_ticket: int = 2,
        idle_wait: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._waiting: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._current: str | None = None
        self._left = 0
        self._frames_per_ticket = frames_per_ticket
        self._idle_wait = idle_wait
        self._source = SyntheticSource(lambda: self._current, seed=seed, ranges=MILD, clock=clock)

    def show(self, text: str) -> None:
        self._waiting.put(text)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def read(self) -> Frame | None:
        if self._left == 0:
            try:
                self._current = self._waiting.get(timeout=self._idle_wait)
            except queue.Empty:
                return None
            self._left = self._frames_per_ticket
        self._left -= 1
        return self._source.read()


class Walker:
    """A visitor at the gate: after each opening, passes the sensor or walks away."""

    def __init__(
        self,
        gate: Gate,
        config: GateConfig,
        pin_factory: Factory,
        *,
        walk_probability: float = 0.95,
        walk_delay: float = 0.2,
        seed: int = 0,
    ) -> None:
        self._gate = gate
        self._sensor = pin_factory.pin(config.sensor_pin)
        self._active_high = config.sensor_active_high
        self._walk_probability = walk_probability
        self._walk_delay = walk_delay
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-walker", daemon=True)
        self.walked = 0
        self.walked_away = 0
        self._idle()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        seen: str | None = None
        while not self._stop.wait(0.02):
            token = self._gate.pending_token
            if token is None or token == seen:
                continue
            seen = token
            if self._random.random() >= self._walk_probability:
                self.walked_away += 1
                continue
            if self._stop.wait(self._walk_delay):
                return
            self._pass()
            self.walked += 1

    def _pass(self) -> None:
        if self._active_high:
            self._sensor.drive_high()
        else:
            self._sensor.drive_low()
        self._stop.wait(0.1)
        self._idle()

    def _idle(self) -> None:
        if self._active_high:
            self._sensor.drive_low()
        else:
            self._sensor.drive_high()


def simulated_config(config: KioskConfig) -> KioskConfig:
    """The same kiosk on MockFactory pins."""
    gate = dataclasses.replace(config.gate, pin_factory="mock")
    return dataclasses.replace(config, gate=gate)


def simulated_hardware(config: KioskConfig, camera: FrameSource | None) -> Hardware:
    scheduler = ThreadScheduler()
    return Hardware(
        pin_factory=make_pin_factory("mock"),
        scheduler=scheduler,
        frames=camera,
        decoder=open_decoder(config.camera.decoder) if camera is not None else None,
        reader=None,
        closers=[scheduler.close],
    )


class SimulatedKiosk:
    """A whole kiosk in this process on simulated hardware; feed it with :meth:`show`.

    The camera is a :class:`TicketCamera`, unless the config's camera source is a ``folder``
    (replayed as is). ``network=False`` runs without a broker (every scan decided offline).
    """

    def __init__(
        self,
        config: KioskConfig,
        *,
        walk_probability: float = 0.95,
        seed: int = 0,
        network: bool = True,
        on_scan: Callable[[ScanOutcome], None] | None = None,
    ) -> None:
        self.config = simulated_config(config)
        self.camera: TicketCamera | None = None
        source: FrameSource | None
        if self.config.camera.source.startswith("folder"):
            source = open_frame_source(self.config.camera.source)
        else:
            self.camera = TicketCamera(seed=seed)
            source = self.camera
        hardware = simulated_hardware(self.config, source)
        self.kiosk = Kiosk(self.config, hardware, network=network, on_scan=on_scan)
        self.walker = Walker(
            self.kiosk.gate,
            self.config.gate,
            hardware.pin_factory,
            walk_probability=walk_probability,
            seed=seed,
        )
        self._thread = threading.Thread(target=self._run, name="sim-kiosk", daemon=True)

    def show(self, text: str) -> None:
        """A visitor holds up a phone showing ``text`` (typed codes: use :meth:`type_code`)."""
        if self.camera is None:
            raise RuntimeError("this simulated kiosk replays a folder; it cannot be shown tickets")
        self.camera.show(text)

    def type_code(self, text: str) -> None:
        """A visitor types a 12-digit code (or a scanner reads one)."""
        self.kiosk.show(text)

    def start(self) -> Self:
        self.walker.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.kiosk.stop()
        self._thread.join(15.0)
        self.walker.stop()

    def run_forever(self) -> None:
        """Run in the calling thread until SIGTERM/SIGINT (``admit kiosk run --simulate``)."""
        self.walker.start()
        try:
            self.kiosk.run(install_signal_handlers=True)
        finally:
            self.walker.stop()

    def _run(self) -> None:
        try:
            self.kiosk.run()
        except Exception:
            log.exception("simulated kiosk %s crashed", self.config.site.gate)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def feed_lines(stream: IO[str], show: Callable[[str], None]) -> threading.Thread:
    """Show each non-empty line of ``stream`` to the camera (a daemon thread)."""

    def pump() -> None:
        for line in stream:
            text = line.strip()
            if text:
                show(text)

    thread = threading.Thread(target=pump, name="sim-feed", daemon=True)
    thread.start()
    return thread


class SimulatedKioskProcess:
    """``admit kiosk run --simulate --config PATH`` in a subprocess, fed through its stdin.

    Its log goes to ``log_path`` (appended), or is discarded.
    """

    def __init__(self, config_path: Path, *, log_path: Path | None = None) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        # the package this module came from, whether installed or run from a checkout
        source_root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                part for part in (source_root, os.environ.get("PYTHONPATH")) if part
            ),
        }
        command = [sys.executable, "-m", "kiosk.cli", "run", "--simulate"]
        command += ["--config", str(self.config_path)]
        log = open(self.log_path, "a") if self.log_path else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
        finally:
            if log is not None:
                log.close()  # the child has its own copy
        return self

    def show(self, text: str) -> None:
        """Show one ticket text to the subprocess's camera."""
        if self.process is None or self.process.stdin is None:
            raise RuntimeError("the simulated kiosk is not running")
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def terminate(self, timeout: float = 15.0) -> int:
        """Stop cleanly (SIGTERM: offline status, gate shutdown); returns the exit code."""
        if self.process is None:
            return 0
        self.process.terminate()
        code = self.process.wait(timeout)
        self._close_stdin()
        return code

    def kill(self) -> None:
        """SIGKILL: the kiosk dies at once (the broker then publishes its last will)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
