"""Gate control: relay, passage sensor, lights and buzzer through gpiozero."""

from hardware.gate.config import GateConfig, GateConfigError, RelayMode, ShutdownMode
from hardware.gate.gate import (
    Gate,
    GateClosedError,
    GateMode,
    OutcomeCallback,
    PassageOutcome,
    UnclaimedPassageCallback,
)
from hardware.gate.scheduler import ManualScheduler, Scheduler, ThreadScheduler, TimerHandle

__all__ = [
    "Gate",
    "GateClosedError",
    "GateConfig",
    "GateConfigError",
    "GateMode",
    "ManualScheduler",
    "OutcomeCallback",
    "PassageOutcome",
    "RelayMode",
    "Scheduler",
    "ShutdownMode",
    "ThreadScheduler",
    "TimerHandle",
    "UnclaimedPassageCallback",
]
