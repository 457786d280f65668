"""Choose the gpiozero pin factory the gate's devices ask for their pins.

Devices never import a GPIO library themselves: they are handed a factory. The factory is picked
by name from the kiosk's settings, and each backend is imported only when chosen, so a laptop
without ``lgpio`` can still simulate a gate with ``mock``.
"""

from __future__ import annotations

from collections.abc import Callable

from gpiozero import Factory

#: the names :func:`make_pin_factory` accepts
PIN_FACTORY_NAMES = ("mock", "lgpio", "native", "default")


class PinFactoryError(RuntimeError):
    """The requested pin factory is unknown or cannot run on this machine."""


def make_pin_factory(name: str) -> Factory:
    """Return a new gpiozero pin factory.

    - ``mock``: gpiozero's ``MockFactory`` with PWM-capable mock pins (simulation and tests);
    - ``lgpio``: the Raspberry Pi backend (``python3-lgpio`` from apt, or the ``pi`` extra);
    - ``native``: gpiozero's pure-Python backend (no PWM, no third-party library);
    - ``default``: whatever gpiozero picks itself (honours ``GPIOZERO_PIN_FACTORY``).
    """
    chosen = name.strip().lower()
    if chosen == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    if chosen == "lgpio":
        try:
            from gpiozero.pins.lgpio import LGPIOFactory
        except ImportError as exc:
            raise PinFactoryError(
                "pin factory 'lgpio' needs the lgpio package: on Raspberry Pi OS run "
                "'sudo apt install python3-lgpio' (and create the venv with "
                "--system-site-packages), or pip install 'admit[pi]'"
            ) from exc
        return _construct("lgpio", LGPIOFactory)
    if chosen == "native":
        from gpiozero.pins.native import NativeFactory

        return _construct("native", NativeFactory)
    if chosen == "default":
        from gpiozero import Device

        # gpiozero exposes its own fallback order (lgpio, rpigpio, pigpio, native) only through
        # this static method; it is what every device calls when no factory is given.
        return _construct("default", Device._default_pin_factory)
    raise PinFactoryError(
        f"unknown pin factory {name!r}; choose one of: {', '.join(PIN_FACTORY_NAMES)}"
    )


def _construct(name: str, build: Callable[[], object]) -> Factory:
    """Build a hardware factory, turning 'no GPIO here' failures into one typed error."""
    try:
        factory = build()
    except Exception as exc:  # each backend raises its own error types (OSError, lgpio.error, ...)
        raise PinFactoryError(
            f"pin factory {name!r} cannot open the GPIO chip on this machine: {exc}"
        ) from exc
    if not isinstance(factory, Factory):
        raise PinFactoryError(f"pin factory {name!r} returned {factory!r}, not a gpiozero Factory")
    return factory
