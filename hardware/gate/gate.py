"""The gate: relay, passage sensor, green and red lights, buzzer.

Every output is derived from a small state (mode, the admission waiting for its passage, whether
the relay pulse is on, whether the red rejection signal is showing) by :meth:`Gate._apply`, so no
combination of timers, sensor edges and commands can leave a light or the relay in a stale state.
Three threads touch that state: the kiosk's (``admit``/``reject``/``set_mode``), gpiozero's
(sensor edges) and the scheduler's (timers); one lock guards it, and callbacks to the kiosk run
after the lock is released.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from gpiozero import LED, Buzzer, DigitalInputDevice, DigitalOutputDevice, Factory

from hardware.gate.config import GateConfig, RelayMode, ShutdownMode
from hardware.gate.scheduler import Scheduler, TimerHandle
from hardware.gate.signals import ADMIT_BEEPS, REJECT_BEEPS, BeepPattern

log = logging.getLogger(__name__)


class GateMode(StrEnum):
    NORMAL = "normal"
    #: never opens; the red light stays on
    LOCKED = "locked"
    #: relay held open (emergency, event egress); the green light stays on
    FREE_PASSAGE = "free_passage"


class PassageOutcome(StrEnum):
    """How an admission ended. Anything but PASSED means the kiosk annuls the admission."""

    #: the passage sensor fired within ``passage_timeout``
    PASSED = "passed"
    #: the gate opened but nobody passed in time (or the gate was locked or closed first)
    NOT_PASSED = "not_passed"
    #: the gate did not open: locked, already waiting for someone else's passage, or closed
    NOT_OPENED = "not_opened"


OutcomeCallback = Callable[[str, PassageOutcome], None]
UnclaimedPassageCallback = Callable[[GateMode], None]


class GateClosedError(RuntimeError):
    """The gate was closed; its pins are no longer ours to drive."""


@dataclass(slots=True)
class _Admission:
    token: str
    timeout: TimerHandle


class Gate:
    """One turnstile's outputs and passage sensor, driven through a gpiozero pin factory.

    ``on_outcome(token, outcome)`` is called exactly once per :meth:`admit`, from whichever thread
    ended the admission (the caller's, gpiozero's or the scheduler's).
    ``on_unclaimed_passage(mode)`` is called when the sensor fires with no admission waiting:
    expected in free passage, a tailgater or a forced turnstile otherwise.
    """

    def __init__(
        self,
        config: GateConfig,
        pin_factory: Factory,
        scheduler: Scheduler,
        on_outcome: OutcomeCallback,
        on_unclaimed_passage: UnclaimedPassageCallback | None = None,
    ) -> None:
        self._config = config
        self._scheduler = scheduler
        self._on_outcome = on_outcome
        self._on_unclaimed_passage = on_unclaimed_passage
        self._lock = threading.RLock()
        self._mode = GateMode.NORMAL
        self._closed = False
        self._pending: _Admission | None = None
        self._relay_engaged = False
        self._relay_release: TimerHandle | None = None
        self._red_signal: TimerHandle | None = None
        self._beep_step: TimerHandle | None = None

        self._relay = DigitalOutputDevice(
            config.relay_pin,
            active_high=config.relay_active_high,
            initial_value=False,
            pin_factory=pin_factory,
        )
        self._green = LED(
            config.green_pin, active_high=config.green_active_high, pin_factory=pin_factory
        )
        self._red = LED(config.red_pin, active_high=config.red_active_high, pin_factory=pin_factory)
        self._buzzer = Buzzer(
            config.buzzer_pin, active_high=config.buzzer_active_high, pin_factory=pin_factory
        )
        pull_up = (not config.sensor_active_high) if config.sensor_pull else None
        self._sensor = DigitalInputDevice(
            config.sensor_pin,
            pull_up=pull_up,
            active_state=None if config.sensor_pull else config.sensor_active_high,
            bounce_time=config.sensor_bounce_time or None,
            pin_factory=pin_factory,
        )
        self._sensor.when_activated = self._sensor_activated

    # --- what the kiosk reads ------------------------------------------------------------

    @property
    def mode(self) -> GateMode:
        return self._mode

    @property
    def is_open(self) -> bool:
        """Whether the relay is releasing the turnstile right now (also after a fail-safe close)."""
        with self._lock:
            return bool(self._relay.value)

    @property
    def pending_token(self) -> str | None:
        """The admission waiting for its passage, if any."""
        with self._lock:
            return self._pending.token if self._pending else None

    @property
    def can_admit(self) -> bool:
        """Whether :meth:`admit` would open the gate now (not locked, closed, or busy)."""
        with self._lock:
            return not self._closed and self._mode != GateMode.LOCKED and self._pending is None

    # --- commands ------------------------------------------------------------------------

    def admit(self, token: str) -> None:
        """Open for one person; the outcome arrives later through ``on_outcome``.

        A locked, closed or busy gate does not open and reports NOT_OPENED at once.
        """
        with self._lock:
            if not self.can_admit:
                refused = True
            else:
                refused = False
                timeout = self._scheduler.call_later(
                    self._config.passage_timeout, lambda: self._passage_timed_out(token)
                )
                self._pending = _Admission(token, timeout)
                self._relay_engaged = True
                if self._config.relay_mode is RelayMode.PULSE:
                    self._cancel(self._relay_release)
                    self._relay_release = self._scheduler.call_later(
                        self._config.open_time, self._end_pulse
                    )
                self._play(ADMIT_BEEPS)
                self._apply()
        if refused:
            log.info("gate did not open for %s (mode %s)", token, self._mode)
            self._on_outcome(token, PassageOutcome.NOT_OPENED)

    def reject(self, reason: str) -> None:
        """Show a rejection: red light for ``reject_signal_time`` and the error beeps.

        The relay is not touched; an admission still waiting for its passage keeps its green.
        """
        with self._lock:
            if self._closed:
                return
            log.info("gate rejects: %s", reason)
            self._cancel(self._red_signal)
            self._red_signal = self._scheduler.call_later(
                self._config.reject_signal_time, self._end_red_signal
            )
            self._play(REJECT_BEEPS)
            self._apply()

    def set_mode(self, mode: GateMode) -> None:
        """Switch mode. Locking annuls an admission still waiting for its passage."""
        with self._lock:
            if self._closed:
                raise GateClosedError("the gate is closed")
            self._mode = mode
            annulled = self._end_admission() if mode is GateMode.LOCKED else None
            if mode is GateMode.LOCKED:
                self._release_relay()
            self._apply()
        if annulled is not None:
            self._on_outcome(annulled, PassageOutcome.NOT_PASSED)

    def close(self, shutdown_mode: ShutdownMode | None = None) -> None:
        """Shut down: lights and buzzer off, relay driven to the shutdown level and kept there.

        FAIL_SAFE drives the relay pin to its active level (``relay_active_high`` True: high),
        releasing the turnstile; FAIL_SECURE drives it to its inactive level (True: low), keeping
        it locked. The relay pin is not released, so that level holds until the pin factory is
        closed at process exit; what the turnstile does after that, and on a power cut, is decided
        by the wiring (deploy/kiosk/WIRING.md). An admission still waiting is annulled.
        """
        chosen = shutdown_mode or self._config.shutdown_mode
        with self._lock:
            if self._closed:
                return
            self._closed = True
            annulled = self._end_admission()
            for handle in (self._relay_release, self._red_signal, self._beep_step):
                self._cancel(handle)
            self._sensor.when_activated = None
            self._relay.value = chosen is ShutdownMode.FAIL_SAFE
            for device in (self._green, self._red, self._buzzer):
                device.off()
            for part in (self._sensor, self._green, self._red, self._buzzer):
                part.close()
        log.info("gate closed %s", chosen)
        if annulled is not None:
            self._on_outcome(annulled, PassageOutcome.NOT_PASSED)

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- events from the sensor and the timers ---------------------------------------------

    def _sensor_activated(self) -> None:
        with self._lock:
            if self._closed:
                return
            passed = self._end_admission()
            if passed is not None and self._config.relay_mode is RelayMode.HOLD:
                self._release_relay()
            mode = self._mode
            self._apply()
        if passed is not None:
            self._on_outcome(passed, PassageOutcome.PASSED)
        elif self._on_unclaimed_passage is not None:
            self._on_unclaimed_passage(mode)

    def _passage_timed_out(self, token: str) -> None:
        with self._lock:
            # the timer may already be running when a passage cancels it: check it is still ours
            if self._closed or self._pending is None or self._pending.token != token:
                return
            self._end_admission()
            self._release_relay()
            self._apply()
        log.info("nobody passed for %s: admission to be annulled", token)
        self._on_outcome(token, PassageOutcome.NOT_PASSED)

    def _end_pulse(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._relay_engaged = False
            self._relay_release = None
            self._apply()

    def _end_red_signal(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._red_signal = None
            self._apply()

    # --- helpers (called with the lock held) ---------------------------------------------------

    def _end_admission(self) -> str | None:
        """Forget the waiting admission (if any) and return its token."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        pending.timeout.cancel()
        return pending.token

    def _release_relay(self) -> None:
        self._cancel(self._relay_release)
        self._relay_release = None
        self._relay_engaged = False

    def _apply(self) -> None:
        """Drive every output from the state; the only place outputs change (but close)."""
        free = self._mode is GateMode.FREE_PASSAGE
        self._relay.value = free or (self._relay_engaged and self._mode is GateMode.NORMAL)
        self._green.value = free or self._pending is not None
        self._red.value = self._mode is GateMode.LOCKED or self._red_signal is not None

    def _play(self, pattern: BeepPattern) -> None:
        """Start a beep pattern, cutting off any pattern still playing."""
        self._cancel(self._beep_step)
        self._beep_step = None
        self._buzzer.off()
        if self._config.buzzer_enabled and pattern:
            self._beep(pattern, 0)

    def _beep(self, pattern: BeepPattern, index: int) -> None:
        beep = pattern[index]
        self._buzzer.on()

        def silence() -> None:
            with self._lock:
                if self._closed:
                    return
                self._buzzer.off()
                if index + 1 < len(pattern):
                    self._beep_step = self._scheduler.call_later(
                        beep.off, lambda: self._next_beep(pattern, index + 1)
                    )
                else:
                    self._beep_step = None

        self._beep_step = self._scheduler.call_later(beep.on, silence)

    def _next_beep(self, pattern: BeepPattern, index: int) -> None:
        with self._lock:
            if not self._closed:
                self._beep(pattern, index)

    @staticmethod
    def _cancel(handle: TimerHandle | None) -> None:
        if handle is not None:
            handle.cancel()
