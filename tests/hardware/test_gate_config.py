from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from hardware.gate import GateConfig, GateConfigError, RelayMode, ShutdownMode

KIOSK_TOML = Path(__file__).resolve().parents[2] / "deploy" / "kiosk" / "kiosk.toml"


def test_defaults_are_valid_and_distinct() -> None:
    config = GateConfig()
    assert len(set(config.pins.values())) == 5
    assert config.relay_mode is RelayMode.PULSE
    assert config.shutdown_mode is ShutdownMode.FAIL_SECURE


def test_same_pin_twice_is_named() -> None:
    with pytest.raises(GateConfigError, match="green_pin and relay_pin both use GPIO17"):
        GateConfig(green_pin=17)


def test_pin_outside_header_is_refused() -> None:
    with pytest.raises(GateConfigError, match="buzzer_pin 40 is not a BCM GPIO"):
        GateConfig(buzzer_pin=40)


@pytest.mark.parametrize("field", ["open_time", "passage_timeout", "reject_signal_time"])
@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf])
def test_negative_or_non_finite_times_are_refused(field: str, value: float) -> None:
    with pytest.raises(GateConfigError, match=field):
        GateConfig(**{field: value})  # type: ignore[arg-type]


def test_zero_open_time_is_refused() -> None:
    with pytest.raises(GateConfigError, match="open_time must be more than 0"):
        GateConfig(open_time=0)


def test_timeout_shorter_than_pulse_is_refused() -> None:
    with pytest.raises(GateConfigError, match="passage_timeout"):
        GateConfig(open_time=2.0, passage_timeout=1.0)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(GateConfigError) as caught:
        GateConfig(red_pin=22, open_time=-1)
    assert len(caught.value.problems) == 2


def test_from_table_converts_toml_values() -> None:
    config = GateConfig.from_table(
        {
            "relay_pin": 5,
            "relay_active_high": False,
            "open_time": 1,
            "relay_mode": "hold",
            "shutdown_mode": "fail_safe",
        }
    )
    assert config.relay_pin == 5
    assert config.relay_active_high is False
    assert config.open_time == 1.0 and isinstance(config.open_time, float)
    assert config.relay_mode is RelayMode.HOLD
    assert config.shutdown_mode is ShutdownMode.FAIL_SAFE


def test_unknown_pin_factory_is_refused() -> None:
    with pytest.raises(GateConfigError, match="pin_factory must be one of mock, lgpio"):
        GateConfig(pin_factory="rpigpio")


def test_from_table_refuses_unknown_keys_and_wrong_types() -> None:
    with pytest.raises(GateConfigError) as caught:
        GateConfig.from_table(
            {
                "pin_factory": 1,
                "relay_pinn": 5,
                "relay_pin": "17",
                "red_pin": True,
                "buzzer_enabled": 1,
                "open_time": "fast",
                "relay_mode": "toggle",
            }
        )
    problems = "; ".join(caught.value.problems)
    assert "pin_factory must be text" in problems
    assert "unknown setting 'relay_pinn'" in problems
    assert "relay_pin must be a whole number" in problems
    assert "red_pin must be a whole number" in problems
    assert "buzzer_enabled must be true or false" in problems
    assert "open_time must be a number of seconds" in problems
    assert "relay_mode must be one of 'pulse', 'hold'" in problems


def test_example_kiosk_toml_gate_table_is_the_defaults() -> None:
    table = tomllib.loads(KIOSK_TOML.read_text(encoding="utf-8"))["gate"]
    assert GateConfig.from_table(table) == GateConfig()


def test_enum_text_values_become_members() -> None:
    config = GateConfig(relay_mode="hold", shutdown_mode="fail_safe")  # type: ignore[arg-type]
    assert config.relay_mode is RelayMode.HOLD
    assert config.shutdown_mode is ShutdownMode.FAIL_SAFE
    with pytest.raises(GateConfigError, match="shutdown_mode must be one of"):
        GateConfig(shutdown_mode="open")  # type: ignore[arg-type]
