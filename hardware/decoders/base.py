"""What every decoder promises: an image in, the QR codes found in it out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

#: ``uint8`` grayscale (H×W) or BGR (H×W×3) image.
Image = npt.NDArray[np.uint8]

Point = tuple[float, float]


class DecoderUnavailable(Exception):
    """A decoder backend cannot run here (its package or shared library is missing)."""


@dataclass(frozen=True, slots=True)
class DecodedCode:
    """One code found in a frame.

    ``corners`` are in the coordinates of the frame that was handed to the decoder
    (clockwise from the code's top-left), whatever rescaling a pass did internally.
    ``found_by`` names the decoder or cascade pass that read it.
    """

    text: str
    format: str
    corners: tuple[Point, Point, Point, Point]
    found_by: str

    def mapped(self, scale: float, origin: Point, found_by: str) -> DecodedCode:
        """The same code with corners mapped from a scaled crop back to the frame."""
        ox, oy = origin
        corners = tuple((ox + x / scale, oy + y / scale) for x, y in self.corners)
        return replace(self, corners=corners, found_by=found_by)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "format": self.format,
            "corners": [[round(x, 1), round(y, 1)] for x, y in self.corners],
            "found_by": self.found_by,
        }


@runtime_checkable
class Decoder(Protocol):
    """Finds QR codes in one image."""

    name: str

    def decode(self, image: Image) -> list[DecodedCode]: ...


def to_gray(image: Image) -> Image:
    """Grayscale view of a camera image (BGR is converted, grayscale passes through)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        import cv2

        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # type: ignore[return-value]
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    raise ValueError(f"expected a grayscale or BGR image, got shape {image.shape}")


def unique_by_text(codes: list[DecodedCode]) -> list[DecodedCode]:
    """Keep the first code for each distinct text, in order."""
    seen: set[str] = set()
    unique = []
    for code in codes:
        if code.text not in seen:
            seen.add(code.text)
            unique.append(code)
    return unique
