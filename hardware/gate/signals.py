"""Beep patterns: what the buzzer plays for an admission and for a rejection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Beep:
    """Buzzer on for ``on`` seconds, then silent for ``off`` seconds before the next beep."""

    on: float
    off: float = 0.0


BeepPattern = tuple[Beep, ...]

#: one short beep: go ahead
ADMIT_BEEPS: BeepPattern = (Beep(0.1),)
#: three quick beeps: not this time
REJECT_BEEPS: BeepPattern = (Beep(0.1, 0.1), Beep(0.1, 0.1), Beep(0.1))
