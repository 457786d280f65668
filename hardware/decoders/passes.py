"""The cascade's harder passes: each re-reads a frame region after one transformation.

A pass is a name plus a function of (grayscale frame, region from triage). It decodes a
transformed crop and maps the corners back to frame coordinates, so callers never see the
crop. Which passes the ``auto`` cascade runs, and in what order, is decided by measurement
(docs/decoding.md); this module is the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from hardware.decoders.base import DecodedCode, Decoder, Image
from hardware.decoders.triage import Region

#: Crops smaller than this (longest side, pixels) are upscaled before decoding.
UPSCALE_BELOW = 480
#: Crops larger than this are shrunk before decoding (noise averages out).
DOWNSCALE_ABOVE = 900


@dataclass(frozen=True, slots=True)
class Pass:
    name: str
    run: Callable[[Image, Region], list[DecodedCode]]


def crop(gray: Image, region: Region) -> Image:
    return np.ascontiguousarray(
        gray[region.y : region.y + region.height, region.x : region.x + region.width]
    )


def decode_view(
    decoder: Decoder, view: Image, scale: float, region: Region, name: str
) -> list[DecodedCode]:
    """Decode ``view`` (the region scaled by ``scale``) and map corners back to the frame."""
    return [code.mapped(scale, (region.x, region.y), name) for code in decoder.decode(view)]


def _resize(image: Image, scale: float) -> Image:
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)  # type: ignore[return-value]


def _working_scale(region: Region) -> float:
    """Bring the crop to a size zxing reads best: small codes up, huge crops down."""
    side = max(region.width, region.height)
    if side < UPSCALE_BELOW:
        return min(2.0, UPSCALE_BELOW / max(side, 1))
    if side > DOWNSCALE_ABOVE:
        return DOWNSCALE_ABOVE / side
    return 1.0


def transformed(
    name: str, decoder: Decoder, transform: Callable[[Image], Image], rescale: bool = True
) -> Pass:
    """A pass that crops the region, rescales it, applies ``transform`` and decodes."""

    def run(gray: Image, region: Region) -> list[DecodedCode]:
        scale = _working_scale(region) if rescale else 1.0
        view = crop(gray, region)
        if scale != 1.0:
            view = _resize(view, scale)
        return decode_view(decoder, transform(view), scale, region, name)

    return Pass(name, run)


def invert(image: Image) -> Image:
    return cv2.bitwise_not(image)  # type: ignore[return-value]


def unsharp(image: Image) -> Image:
    """Unsharp mask: restores module edges softened by defocus or motion."""
    blurred = cv2.GaussianBlur(image, (0, 0), 2.0)
    return cv2.addWeighted(image, 2.0, blurred, -1.0, 0)  # type: ignore[return-value]


def smooth(image: Image) -> Image:
    """Median filter: removes sensor noise and texture inside modules (artistic codes)."""
    side = max(image.shape)
    kernel = 3 if side < 400 else 5
    return cv2.medianBlur(image, kernel)  # type: ignore[return-value]


def otsu(image: Image) -> Image:
    """Light Gaussian blur then one global Otsu threshold: clean black and white modules."""
    blurred = cv2.GaussianBlur(image, (5, 5), 0)
    return cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]  # type: ignore[return-value]


def despeckle(image: Image) -> Image:
    """Heavy median filter: flattens pictures printed inside the modules of artistic codes."""
    return cv2.medianBlur(image, 7)  # type: ignore[return-value]


def binarize(image: Image) -> Image:
    """Adaptive threshold over a window a few modules wide."""
    block = max(15, (max(image.shape) // 16) | 1)
    return cv2.adaptiveThreshold(  # type: ignore[return-value]
        image, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 4
    )
