"""Replay image files from a folder as if a camera produced them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import cv2
import numpy as np

from hardware.frames.base import Clock, Frame, FrameSourceError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"}
)


class FolderSource:
    """Images from ``folder`` in sorted file-name order, optionally looping and paced.

    Files OpenCV cannot read are skipped (a replay folder may hold a stray text file).
    With ``fps`` set, ``read()`` sleeps (through the injected ``sleep``) so frames come
    no faster than a camera's would.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        loop: bool = False,
        fps: float | None = None,
        grayscale: bool = True,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FrameSourceError(f"frame folder {self.folder} does not exist")
        if fps is not None and fps <= 0:
            raise FrameSourceError(f"fps must be positive, got {fps}")
        self.paths = sorted(
            p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        self.loop = loop
        self.interval = 1.0 / fps if fps else 0.0
        self._flags = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
        self._clock = clock
        self._sleep = sleep
        self._position = 0
        self._index = 0
        self._last: float | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def read(self) -> Frame | None:
        """The next readable image, or ``None`` at the end (never, when looping)."""
        misses = 0
        while self.paths and misses < len(self.paths):
            if self._position >= len(self.paths):
                if not self.loop:
                    return None
                self._position = 0
            path = self.paths[self._position]
            self._position += 1
            image = cv2.imread(str(path), self._flags)
            if image is None:
                misses += 1
                continue
            self._pace()
            frame = Frame(
                image=np.asarray(image, dtype=np.uint8), timestamp=self._clock(), index=self._index
            )
            self._index += 1
            return frame
        return None

    def _pace(self) -> None:
        if not self.interval:
            return
        now = self._clock()
        if self._last is not None:
            wait = self._last + self.interval - now
            if wait > 0:
                self._sleep(wait)
                now += wait
        self._last = now
