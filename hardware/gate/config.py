"""The gate's wiring and timing, validated once, mapped from the kiosk's ``[gate]`` TOML table.

Pin numbers are BCM GPIO numbers. The defaults match ``deploy/kiosk/WIRING.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from hardware.pins import PIN_FACTORY_NAMES

#: BCM numbers of the GPIOs on the Raspberry Pi's 40-pin header
HEADER_GPIOS = range(28)


class RelayMode(StrEnum):
    """How long the relay stays on after an admission."""

    #: on for ``open_time``, then off, whether or not the person has passed yet (turnstile
    #: controllers that take a "release one rotation" pulse)
    PULSE = "pulse"
    #: on until the passage sensor fires or ``passage_timeout`` runs out (locks and barriers that
    #: close again as soon as the relay drops)
    HOLD = "hold"


class ShutdownMode(StrEnum):
    """What :meth:`Gate.close` leaves the relay doing. Both drive the relay pin, never float it.

    The relay's *active* level (``relay_active_high``) is the level that releases the turnstile.
    """

    #: relay pin driven to its active level: the turnstile is released, people can walk out
    #: (escape routes; fire exit rules)
    FAIL_SAFE = "fail_safe"
    #: relay pin driven to its inactive level: the turnstile stays locked
    FAIL_SECURE = "fail_secure"


class GateConfigError(ValueError):
    """The gate configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid gate configuration: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Pins (BCM numbers), active levels and times (seconds) of one gate."""

    #: the gpiozero backend, for :func:`hardware.pins.make_pin_factory`: "lgpio" on the Pi,
    #: "mock" in simulation and tests
    pin_factory: str = "lgpio"
    #: relay that releases the turnstile; active_high: GPIO high releases it
    relay_pin: int = 17
    relay_active_high: bool = True
    #: passage sensor (turnstile rotation switch or beam break)
    sensor_pin: int = 27
    #: False: the sensor pulls the line low when a person passes (switch or open-collector
    #: output to GND, the common case)
    sensor_active_high: bool = False
    #: use the Pi's internal pull resistor towards the idle level (up for an active-low sensor)
    sensor_pull: bool = True
    #: ignore further edges this long after one (switch bounce); 0 turns debouncing off
    sensor_bounce_time: float = 0.05
    green_pin: int = 22
    green_active_high: bool = True
    red_pin: int = 23
    red_active_high: bool = True
    buzzer_pin: int = 24
    buzzer_active_high: bool = True
    #: False keeps the buzzer silent (quiet venues); its pin stays reserved and off
    buzzer_enabled: bool = True
    relay_mode: RelayMode = RelayMode.PULSE
    #: relay on-time in pulse mode
    open_time: float = 0.5
    #: how long an admitted person has to pass before the admission is annulled
    passage_timeout: float = 8.0
    #: how long the red light shows after a rejection
    reject_signal_time: float = 1.5
    shutdown_mode: ShutdownMode = ShutdownMode.FAIL_SECURE

    def __post_init__(self) -> None:
        problems = _enum_problems(self) + _pin_problems(self) + _time_problems(self)
        if self.pin_factory not in PIN_FACTORY_NAMES:
            problems.append(
                f"pin_factory must be one of {', '.join(PIN_FACTORY_NAMES)}, "
                f"not {self.pin_factory!r}"
            )
        if problems:
            raise GateConfigError(problems)

    @property
    def pins(self) -> dict[str, int]:
        """Part name -> BCM pin."""
        return {
            "relay_pin": self.relay_pin,
            "sensor_pin": self.sensor_pin,
            "green_pin": self.green_pin,
            "red_pin": self.red_pin,
            "buzzer_pin": self.buzzer_pin,
        }

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> GateConfig:
        """Build from a parsed TOML ``[gate]`` table; unknown keys and wrong types are errors."""
        known = {field.name: field for field in fields(cls)}
        problems: list[str] = []
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                problems.append(f"unknown setting {key!r}")
                continue
            default = known[key].default
            converted = _convert(key, value, default, problems)
            if converted is not None:
                values[key] = converted
        if problems:
            raise GateConfigError(problems)
        return cls(**values)


def _convert(key: str, value: Any, default: Any, problems: list[str]) -> Any:
    """Check a TOML value against the field's default type; None (after a problem) drops it."""
    if isinstance(default, StrEnum):
        enum_type = type(default)
        try:
            return enum_type(value)
        except ValueError:
            choices = ", ".join(repr(member.value) for member in enum_type)
            problems.append(f"{key} must be one of {choices}, not {value!r}")
            return None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            problems.append(f"{key} must be true or false, not {value!r}")
            return None
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{key} must be a whole number (BCM pin), not {value!r}")
            return None
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            problems.append(f"{key} must be text, not {value!r}")
            return None
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{key} must be a number of seconds, not {value!r}")
            return None
        return float(value)
    raise TypeError(f"no conversion for setting {key!r}")


def _enum_problems(config: GateConfig) -> list[str]:
    """Accept the enums' text values too (``relay_mode="hold"``), storing the enum members."""
    problems: list[str] = []
    for name, enum_type in (("relay_mode", RelayMode), ("shutdown_mode", ShutdownMode)):
        value = getattr(config, name)
        try:
            object.__setattr__(config, name, enum_type(value))
        except ValueError:
            choices = ", ".join(repr(member.value) for member in enum_type)
            problems.append(f"{name} must be one of {choices}, not {value!r}")
    return problems


def _pin_problems(config: GateConfig) -> list[str]:
    problems: list[str] = []
    seen: dict[int, str] = {}
    for name, pin in config.pins.items():
        if pin not in HEADER_GPIOS:
            problems.append(f"{name} {pin} is not a BCM GPIO on the 40-pin header (0-27)")
        elif pin in seen:
            problems.append(f"{name} and {seen[pin]} both use GPIO{pin}")
        else:
            seen[pin] = name
    return problems


def _time_problems(config: GateConfig) -> list[str]:
    problems: list[str] = []
    times = {
        "open_time": config.open_time,
        "passage_timeout": config.passage_timeout,
        "reject_signal_time": config.reject_signal_time,
        "sensor_bounce_time": config.sensor_bounce_time,
    }
    for name, seconds in times.items():
        if not math.isfinite(seconds) or seconds < 0:
            problems.append(f"{name} must be a finite number of seconds >= 0, not {seconds!r}")
    if not problems:
        if config.open_time == 0:
            problems.append("open_time must be more than 0 seconds")
        if config.passage_timeout < config.open_time:
            problems.append(
                f"passage_timeout ({config.passage_timeout}) must not be shorter than "
                f"open_time ({config.open_time})"
            )
    return problems
