"""Raspberry Pi camera through picamera2 (the ``pi`` extra; install from apt on the Pi).

The camera runs two streams: ``main`` (full size, unused by the kiosk unless saved for
audit) and a low-resolution ``lores`` stream in YUV420, whose first plane is the
luminance image the decoders want, with no colour conversion at all.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

import numpy as np

from hardware.frames.base import Clock, Frame, FrameSourceError


class PiCamera:
    def __init__(
        self,
        *,
        width: int = 1280,
        height: int = 720,
        main_size: tuple[int, int] = (1920, 1080),
        camera_num: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.size = (width, height)
        self.main_size = main_size
        self.camera_num = camera_num
        self._clock = clock
        self._camera: Any = None
        self._index = 0

    def __enter__(self) -> Self:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise FrameSourceError(
                "picamera2 is not installed: on Raspberry Pi OS run "
                "'sudo apt install python3-picamera2' and create the venv with "
                "--system-site-packages"
            ) from exc
        camera = Picamera2(self.camera_num)
        config = camera.create_preview_configuration(
            main={"size": self.main_size},
            lores={"size": self.size, "format": "YUV420"},
        )
        camera.configure(config)
        camera.start()
        self._camera = camera
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._camera is not None:
            self._camera.stop()
            self._camera.close()
            self._camera = None

    def read(self) -> Frame | None:
        if self._camera is None:
            raise FrameSourceError("camera is not open; use it as a context manager")
        yuv = self._camera.capture_array("lores")
        width, height = self.size
        # YUV420 arrives as (height * 3/2) rows of ``stride`` bytes; Y is the top block.
        luminance = np.ascontiguousarray(yuv[:height, :width], dtype=np.uint8)
        frame = Frame(image=luminance, timestamp=self._clock(), index=self._index)
        self._index += 1
        return frame
