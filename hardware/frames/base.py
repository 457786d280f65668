"""What every frame source promises: a context manager that hands out timestamped frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

#: A monotonic clock in seconds (``time.monotonic`` in production, a fake in tests).
Clock = Callable[[], float]

#: A camera image: ``uint8`` grayscale (H×W) or BGR (H×W×3).
Image = npt.NDArray[np.uint8]


class FrameSourceError(Exception):
    """A frame source could not be opened or configured (bad spec, missing device or package)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera image and when it was captured.

    ``timestamp`` comes from the clock handed to the source, so decisions downstream
    (debounce, anti-passback windows) can be tested with a fake clock.
    """

    image: Image
    timestamp: float
    index: int

    @property
    def is_gray(self) -> bool:
        return self.image.ndim == 2


@runtime_checkable
class FrameSource(Protocol):
    """A camera or something that behaves like one.

    Use it as a context manager; ``read()`` returns the next frame, or ``None`` when the
    source has no frame to give (camera timeout, end of a non-looping folder).
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def read(self) -> Frame | None: ...
