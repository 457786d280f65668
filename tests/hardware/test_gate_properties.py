"""Invariants of the gate under any sequence of commands, sensor edges and elapsed time."""

from __future__ import annotations

import threading
from collections import Counter

from gpiozero.pins.mock import MockFactory, MockPin
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.gate import (
    Gate,
    GateConfig,
    GateMode,
    ManualScheduler,
    PassageOutcome,
    RelayMode,
    ThreadScheduler,
)

CONFIG = GateConfig()

steps = st.lists(
    st.one_of(
        st.just(("admit",)),
        st.just(("walk",)),
        st.just(("reject",)),
        st.tuples(st.just("wait"), st.floats(0, 10)),
        st.tuples(st.just("mode"), st.sampled_from(list(GateMode))),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from(list(RelayMode)))
def test_every_admission_ends_once_and_a_locked_gate_stays_shut(
    actions: list[tuple[object, ...]], relay_mode: RelayMode
) -> None:
    factory = MockFactory()
    clock = ManualScheduler()
    outcomes: Counter[str] = Counter()
    gate = Gate(
        GateConfig(relay_mode=relay_mode),
        factory,
        clock,
        on_outcome=lambda token, outcome: outcomes.update([token]),
    )
    relay = factory.pin(CONFIG.relay_pin)
    sensor = factory.pin(CONFIG.sensor_pin)
    assert isinstance(relay, MockPin) and isinstance(sensor, MockPin)
    admitted = 0
    for action in actions:
        match action:
            case ("admit",):
                admitted += 1
                gate.admit(f"t{admitted}")
            case ("walk",):
                sensor.drive_low()
                sensor.drive_high()
            case ("reject",):
                gate.reject("expired")
            case ("wait", float() as seconds):
                clock.advance(seconds)
            case ("mode", GateMode() as mode):
                gate.set_mode(mode)
        if gate.mode is GateMode.LOCKED:
            assert not relay.state
        if gate.mode is GateMode.FREE_PASSAGE:
            assert relay.state
        assert all(count == 1 for count in outcomes.values())
    clock.advance(CONFIG.passage_timeout)
    assert sorted(outcomes) == sorted(f"t{n}" for n in range(1, admitted + 1))
    assert all(count == 1 for count in outcomes.values())
    assert gate.pending_token is None
    gate.close()


def test_concurrent_sensor_edges_and_timers_report_each_admission_once() -> None:
    factory = MockFactory()
    scheduler = ThreadScheduler()
    outcomes: list[tuple[str, PassageOutcome]] = []
    ended = threading.Semaphore(0)

    def record(token: str, outcome: PassageOutcome) -> None:
        outcomes.append((token, outcome))
        ended.release()

    # a passage timeout of 0 races the timer thread against the sensor edge on every admission
    config = GateConfig(open_time=0.0001, passage_timeout=0.0001, sensor_bounce_time=0)
    gate = Gate(config, factory, scheduler, on_outcome=record)
    sensor = factory.pin(CONFIG.sensor_pin)
    assert isinstance(sensor, MockPin)
    try:
        for number in range(200):
            gate.admit(f"t{number}")
            sensor.drive_low()
            sensor.drive_high()
            assert ended.acquire(timeout=10)
    finally:
        gate.close()
        scheduler.close()
    assert [token for token, _ in outcomes] == [f"t{number}" for number in range(200)]
    assert {outcome for _, outcome in outcomes} <= {
        PassageOutcome.PASSED,
        PassageOutcome.NOT_PASSED,
    }
