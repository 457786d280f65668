"""A cheap look at a frame: could it hold a QR code, and where?

QR codes are the most textured thing a gate camera usually sees: every module border is a
strong edge, packed densely. Walls, clothes and faces are smooth at this scale, and sensor
noise averages away when the frame is shrunk. So the cascade only spends its expensive
passes on frames with a dense patch of strong edges, and aims them at that patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hardware.decoders.base import Image

#: Width the frame is shrunk to before measuring texture (keeps the check under ~1 ms).
TRIAGE_WIDTH = 640
#: Side of the square cells texture is averaged over, in shrunk pixels.
CELL = 16
#: A pixel is an edge pixel when it differs from a neighbour by this many grey levels.
EDGE_LEVEL = 12
#: Fraction of edge pixels a cell needs to look like QR modules. One straight edge (a phone's
#: bezel, a door frame) fills about a quarter of a cell; a patch of modules fills most of it.
TEXTURE_THRESHOLD = 0.5
#: How many pyramid levels (each half the size of the last) are measured.
PYRAMID_LEVELS = 3


@dataclass(frozen=True, slots=True)
class Region:
    """An axis-aligned rectangle in frame pixels: ``x``, ``y`` top-left, then size."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Triage:
    """The verdict: the densest edge texture seen (0..1) and the region around it, if any."""

    texture: float
    region: Region | None

    @property
    def may_hold_code(self) -> bool:
        return self.region is not None


def triage(gray: Image, threshold: float = TEXTURE_THRESHOLD) -> Triage:
    """Find the densest patch of edges; return its bounding box, padded, if dense enough.

    Texture is measured on a small pyramid (the frame shrunk to ``TRIAGE_WIDTH``, then
    halved) so that both small codes in a wide frame and a close-up code with big modules
    fill a cell with edges at some level.
    """
    height, width = gray.shape
    scale = min(1.0, TRIAGE_WIDTH / width)
    level: np.ndarray = (
        cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1.0
        else gray
    )
    best: tuple[float, np.ndarray, float] | None = None
    for _ in range(PYRAMID_LEVELS):
        cells = _edge_density(level)
        if cells is None:
            break
        peak = float(cells.max())
        if best is None or peak > best[0]:
            best = (peak, cells, scale)
        level = np.asarray(cv2.pyrDown(level))
        scale /= 2.0
    if best is None or best[0] < threshold:
        return Triage(texture=0.0 if best is None else best[0], region=None)
    peak, cells, scale = best
    x0, y0, x1, y1 = _region_around_peak(cells, max(threshold, peak * 0.6))
    # Back to frame pixels, padded by a cell for the quiet zone.
    to_frame = CELL / scale
    left, top = max(int((x0 - 1) * to_frame), 0), max(int((y0 - 1) * to_frame), 0)
    right, bottom = min(int((x1 + 1) * to_frame), width), min(int((y1 + 1) * to_frame), height)
    return Triage(texture=peak, region=Region(left, top, right - left, bottom - top))


def _edge_density(image: np.ndarray) -> np.ndarray | None:
    """Fraction of edge pixels in each ``CELL``×``CELL`` cell, or None if too small."""
    gx = cv2.absdiff(image[:, 1:], image[:, :-1])[:-1, :]
    gy = cv2.absdiff(image[1:, :], image[:-1, :])[:, :-1]
    edges = (cv2.max(gx, gy) >= EDGE_LEVEL).astype(np.float32)
    rows, cols = edges.shape[0] // CELL, edges.shape[1] // CELL
    if rows < 2 or cols < 2:
        return None
    return cv2.resize(
        edges[: rows * CELL, : cols * CELL], (cols, rows), interpolation=cv2.INTER_AREA
    )


def _region_around_peak(cells: np.ndarray, level: float) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1, in cells) of the textured blob holding the peak."""
    mask = cv2.dilate((cells >= level).astype(np.uint8), np.ones((3, 3), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    peak_y, peak_x = np.unravel_index(int(np.argmax(cells)), cells.shape)
    label = int(labels[peak_y, peak_x])
    x, y, w, h = (int(v) for v in stats[label, :4])
    return x, y, x + w, y + h
