"""Synthetic camera: rendered ticket scenes, reproducible from a seed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

import cv2
import numpy as np

from hardware.frames.base import Clock, Frame
from hardware.frames.scene import FRAME_SIZE, REALISTIC, RenderedScene, SceneRanges, render_scene

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: Where the text shown on each phone comes from: a callable or an iterator of texts.
TextFeed = Callable[[], str | None] | Iterator[str | None]


def random_credential_texts(rng: np.random.Generator, length: int = 120) -> Iterator[str]:
    """Endless credential-like texts (QR alphanumeric alphabet), for benches and demos."""
    alphabet = np.array(list(ALPHANUMERIC))
    while True:
        yield "".join(rng.choice(alphabet, length))


class SyntheticSource:
    """Frames of a visitor's phone showing a QR code, rendered on demand.

    ``texts`` says what each phone shows: the kiosk simulation feeds real credentials,
    tests feed fixed strings. ``None`` from the feed, or every ``empty_every``-th frame,
    gives a frame without a code. The same ``seed`` and feed give the same frames.
    ``last_scene`` keeps what was rendered, so tests and benches know the truth.
    """

    def __init__(
        self,
        texts: TextFeed | None = None,
        *,
        seed: int = 0,
        ranges: SceneRanges = REALISTIC,
        size: tuple[int, int] = FRAME_SIZE,
        empty_every: int = 0,
        bgr: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self._texts = texts if texts is not None else random_credential_texts(self.rng)
        self.ranges = ranges
        self.size = size
        self.empty_every = empty_every
        self.bgr = bgr
        self._clock = clock
        self._index = 0
        self.last_scene: RenderedScene | None = None

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
        text = self._next_text()
        scene = render_scene(text, self.rng, self.ranges, self.size)
        self.last_scene = scene
        image = cv2.cvtColor(scene.image, cv2.COLOR_GRAY2BGR) if self.bgr else scene.image
        frame = Frame(
            image=np.asarray(image, dtype=np.uint8), timestamp=self._clock(), index=self._index
        )
        self._index += 1
        return frame

    def _next_text(self) -> str | None:
        if self.empty_every and self._index % self.empty_every == self.empty_every - 1:
            return None
        if callable(self._texts):
            return self._texts()
        return next(self._texts, None)
