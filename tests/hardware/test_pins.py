from __future__ import annotations

import sys

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory, MockPWMPin

from hardware.pins import PinFactoryError, make_pin_factory


def test_mock_factory_drives_pins_and_supports_pwm() -> None:
    factory = make_pin_factory(" Mock ")
    assert isinstance(factory, MockFactory)
    led = LED(5, pin_factory=factory)
    led.on()
    pin = factory.pin(5)
    assert isinstance(pin, MockPWMPin)
    assert pin.state
    led.close()


def test_each_mock_factory_is_fresh() -> None:
    first = make_pin_factory("mock")
    LED(5, pin_factory=first)
    LED(5, pin_factory=make_pin_factory("mock"))  # no "pin already in use" across factories


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(PinFactoryError, match="mock, lgpio, native, default"):
        make_pin_factory("rpi")


def test_missing_lgpio_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", None)
    with pytest.raises(PinFactoryError, match="apt install python3-lgpio"):
        make_pin_factory("lgpio")
