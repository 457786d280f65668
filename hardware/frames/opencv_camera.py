"""USB camera through OpenCV's V4L2 backend."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

import numpy as np

from hardware.frames.base import Clock, Frame, FrameSourceError


class OpenCVCamera:
    """A V4L2 camera (``/dev/videoN`` or its index) read with ``cv2.VideoCapture``.

    Frames are converted to grayscale unless ``grayscale=False``: the decoders only use
    luminance, and conversion here keeps the kiosk's memory traffic down.
    """

    def __init__(
        self,
        device: int | str = 0,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        grayscale: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.device = device
        self.width, self.height, self.fps = width, height, fps
        self.grayscale = grayscale
        self._clock = clock
        self._capture: Any = None
        self._index = 0

    def __enter__(self) -> Self:
        import cv2

        capture = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not capture.isOpened():
            raise FrameSourceError(f"cannot open V4L2 camera {self.device!r}")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # always the newest frame, not a stale one
        self._capture = capture
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def read(self) -> Frame | None:
        import cv2

        if self._capture is None:
            raise FrameSourceError("camera is not open; use it as a context manager")
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        if self.grayscale:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        frame = Frame(
            image=np.asarray(image, dtype=np.uint8), timestamp=self._clock(), index=self._index
        )
        self._index += 1
        return frame
