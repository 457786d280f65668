"""The gate on gpiozero's MockFactory, with time moved by hand (no sleeps, no timed asserts)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from hardware.gate import (
    Gate,
    GateClosedError,
    GateConfig,
    GateMode,
    ManualScheduler,
    PassageOutcome,
    RelayMode,
    ShutdownMode,
)

CONFIG = GateConfig()  # relay 17, sensor 27 (active low, pull-up), green 22, red 23, buzzer 24


class Rig:
    """A gate on mock pins plus everything it reported."""

    def __init__(self, config: GateConfig = CONFIG) -> None:
        self.factory = MockFactory()
        self.clock = ManualScheduler()
        self.config = config
        self.outcomes: list[tuple[str, PassageOutcome]] = []
        self.unclaimed: list[GateMode] = []
        self.gate = Gate(
            config,
            self.factory,
            self.clock,
            on_outcome=lambda token, outcome: self.outcomes.append((token, outcome)),
            on_unclaimed_passage=self.unclaimed.append,
        )

    def pin(self, number: int) -> MockPin:
        pin = self.factory.pin(number)
        assert isinstance(pin, MockPin)
        return pin

    @property
    def relay(self) -> bool:
        return bool(self.pin(self.config.relay_pin).state)

    @property
    def green(self) -> bool:
        return bool(self.pin(self.config.green_pin).state)

    @property
    def red(self) -> bool:
        return bool(self.pin(self.config.red_pin).state)

    @property
    def buzzer(self) -> bool:
        return bool(self.pin(self.config.buzzer_pin).state)

    def walk_through(self) -> None:
        """The turnstile turns: the active-low rotation switch closes and opens again."""
        sensor = self.pin(self.config.sensor_pin)
        sensor.drive_low()
        sensor.drive_high()


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.gate.close()


def test_idle_gate_is_locked_dark_and_silent(rig: Rig) -> None:
    assert (rig.relay, rig.green, rig.red, rig.buzzer) == (False, False, False, False)
    assert rig.gate.can_admit
    assert not rig.gate.is_open


def test_pulse_keeps_relay_high_for_exactly_open_time(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    assert rig.relay and rig.green and rig.gate.is_open
    rig.clock.advance_to(0.49)
    assert rig.relay
    rig.clock.advance_to(0.5)
    assert not rig.relay
    assert rig.green, "green stays on until the person has passed"
    assert rig.gate.pending_token == "scan-1"


def test_passage_within_timeout_reports_passed(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    rig.clock.advance(3.0)
    rig.walk_through()
    assert rig.outcomes == [("scan-1", PassageOutcome.PASSED)]
    assert not rig.green
    assert rig.gate.pending_token is None
    rig.clock.advance(60)
    assert rig.outcomes == [("scan-1", PassageOutcome.PASSED)], "timeout must not fire later"


def test_no_passage_reports_not_passed_at_timeout(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    rig.clock.advance_to(7.99)
    assert rig.outcomes == []
    rig.clock.advance_to(8.0)
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_PASSED)]
    assert not rig.green and not rig.relay
    rig.walk_through()
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_PASSED)]
    assert rig.unclaimed == [GateMode.NORMAL], "a late turn is an unclaimed passage"


def test_passage_during_pulse_leaves_the_pulse_its_full_length(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    rig.clock.advance_to(0.2)
    rig.walk_through()
    assert rig.outcomes == [("scan-1", PassageOutcome.PASSED)]
    assert rig.relay
    rig.clock.advance_to(0.5)
    assert not rig.relay


def test_hold_mode_keeps_relay_until_passage() -> None:
    rig = Rig(replace(CONFIG, relay_mode=RelayMode.HOLD))
    rig.gate.admit("scan-1")
    rig.clock.advance(5.0)
    assert rig.relay
    rig.walk_through()
    assert not rig.relay
    assert rig.outcomes == [("scan-1", PassageOutcome.PASSED)]


def test_hold_mode_releases_relay_at_timeout() -> None:
    rig = Rig(replace(CONFIG, relay_mode=RelayMode.HOLD))
    rig.gate.admit("scan-1")
    rig.clock.advance_to(7.99)
    assert rig.relay
    rig.clock.advance_to(8.0)
    assert not rig.relay
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_PASSED)]


def test_second_admit_while_waiting_does_not_open(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    assert not rig.gate.can_admit
    rig.gate.admit("scan-2")
    assert rig.outcomes == [("scan-2", PassageOutcome.NOT_OPENED)]
    rig.walk_through()
    assert rig.outcomes[-1] == ("scan-1", PassageOutcome.PASSED)


def test_admit_right_after_a_passage_restarts_the_pulse(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    rig.clock.advance(0.3)
    rig.walk_through()
    rig.gate.admit("scan-2")
    rig.clock.advance_to(0.79)
    assert rig.relay, "the first pulse's end must not cut the second one short"
    rig.clock.advance_to(0.8)
    assert not rig.relay


def test_admit_beeps_once(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    assert rig.buzzer
    rig.clock.advance_to(0.09)
    assert rig.buzzer
    rig.clock.advance_to(0.1)
    assert not rig.buzzer
    rig.clock.advance(1.0)
    assert not rig.buzzer


def test_reject_shows_red_and_beeps_three_times_relay_stays_closed(rig: Rig) -> None:
    rig.gate.reject("bad_signature")
    assert rig.red and not rig.relay and not rig.green
    buzzer = []
    for step in range(6):  # sample the middle of each 0.1 s slot
        rig.clock.advance_to(step / 10 + 0.05)
        buzzer.append(rig.buzzer)
    assert buzzer == [True, False, True, False, True, False]
    rig.clock.advance_to(1.49)
    assert rig.red
    rig.clock.advance_to(1.5)
    assert not rig.red
    assert rig.outcomes == []


def test_reject_restarts_the_red_signal(rig: Rig) -> None:
    rig.gate.reject("expired")
    rig.clock.advance_to(1.0)
    rig.gate.reject("expired")
    rig.clock.advance_to(2.49)
    assert rig.red
    rig.clock.advance_to(2.5)
    assert not rig.red


def test_silent_buzzer_never_sounds() -> None:
    rig = Rig(replace(CONFIG, buzzer_enabled=False))
    rig.gate.admit("scan-1")
    rig.gate.reject("unknown_ticket")
    assert not rig.buzzer
    assert rig.pin(CONFIG.buzzer_pin).states[-1].state is False


def test_locked_gate_never_opens(rig: Rig) -> None:
    rig.gate.set_mode(GateMode.LOCKED)
    assert rig.red and not rig.relay
    assert not rig.gate.can_admit
    rig.gate.admit("scan-1")
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_OPENED)]
    assert not rig.relay
    assert len(rig.pin(CONFIG.relay_pin).states) == 1, "the relay pin never changed"


def test_locking_annuls_a_waiting_admission(rig: Rig) -> None:
    rig.gate.admit("scan-1")
    rig.gate.set_mode(GateMode.LOCKED)
    assert not rig.relay and not rig.green
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_PASSED)]
    rig.clock.advance(10)
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_PASSED)]


def test_free_passage_holds_relay_until_normal(rig: Rig) -> None:
    rig.gate.set_mode(GateMode.FREE_PASSAGE)
    assert rig.relay and rig.green
    rig.clock.advance(3600)
    assert rig.relay
    rig.walk_through()
    assert rig.unclaimed == [GateMode.FREE_PASSAGE]
    rig.gate.set_mode(GateMode.NORMAL)
    assert not rig.relay and not rig.green


def test_admission_in_free_passage_keeps_relay_after_the_pulse(rig: Rig) -> None:
    rig.gate.set_mode(GateMode.FREE_PASSAGE)
    rig.gate.admit("scan-1")
    rig.clock.advance(1.0)
    assert rig.relay
    rig.walk_through()
    assert rig.outcomes == [("scan-1", PassageOutcome.PASSED)]


def test_unlocking_returns_to_idle(rig: Rig) -> None:
    rig.gate.set_mode(GateMode.LOCKED)
    rig.gate.set_mode(GateMode.NORMAL)
    assert (rig.relay, rig.green, rig.red) == (False, False, False)
    rig.gate.admit("scan-1")
    assert rig.relay


@pytest.mark.parametrize(
    ("active_high", "shutdown", "level"),
    [
        (True, ShutdownMode.FAIL_SAFE, True),
        (True, ShutdownMode.FAIL_SECURE, False),
        (False, ShutdownMode.FAIL_SAFE, False),
        (False, ShutdownMode.FAIL_SECURE, True),
    ],
)
def test_close_drives_relay_to_the_shutdown_level(
    active_high: bool, shutdown: ShutdownMode, level: bool
) -> None:
    rig = Rig(replace(CONFIG, relay_active_high=active_high))
    rig.gate.close(shutdown)
    assert rig.relay is level
    assert rig.pin(CONFIG.relay_pin).function == "output", "the relay pin keeps being driven"
    assert rig.gate.is_open is (shutdown is ShutdownMode.FAIL_SAFE)


def test_close_uses_configured_shutdown_mode_and_annuls_the_waiting_admission() -> None:
    rig = Rig(replace(CONFIG, shutdown_mode=ShutdownMode.FAIL_SAFE))
    rig.gate.admit("scan-1")
    rig.gate.reject("expired")
    rig.gate.close()
    assert rig.relay
    assert (rig.green, rig.red, rig.buzzer) == (False, False, False)
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_PASSED)]
    assert rig.clock.pending == 0


def test_closed_gate_refuses_everything() -> None:
    rig = Rig()
    rig.gate.close()
    rig.gate.admit("scan-1")
    assert rig.outcomes == [("scan-1", PassageOutcome.NOT_OPENED)]
    rig.gate.reject("expired")
    assert not rig.red
    with pytest.raises(GateClosedError):
        rig.gate.set_mode(GateMode.FREE_PASSAGE)
    rig.gate.close(ShutdownMode.FAIL_SAFE)
    assert not rig.relay, "a second close changes nothing"


def test_active_low_outputs_invert_pin_levels() -> None:
    config = replace(
        CONFIG,
        relay_active_high=False,
        green_active_high=False,
        red_active_high=False,
        buzzer_active_high=False,
    )
    rig = Rig(config)
    assert (rig.relay, rig.green, rig.red, rig.buzzer) == (True, True, True, True)
    rig.gate.admit("scan-1")
    assert (rig.relay, rig.green, rig.red, rig.buzzer) == (False, False, True, False)
    rig.gate.close()


def test_active_high_sensor_without_internal_pull() -> None:
    rig = Rig(replace(CONFIG, sensor_active_high=True, sensor_pull=False))
    assert rig.pin(CONFIG.sensor_pin).pull == "floating"
    rig.gate.admit("scan-1")
    sensor = rig.pin(CONFIG.sensor_pin)
    sensor.drive_high()
    assert rig.outcomes == [("scan-1", PassageOutcome.PASSED)]
    rig.gate.close()


def test_sensor_uses_internal_pull_up_for_active_low(rig: Rig) -> None:
    assert rig.pin(CONFIG.sensor_pin).pull == "up"
