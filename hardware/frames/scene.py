"""Render what a gate camera sees when a visitor holds up a phone showing a ticket QR.

Pure functions of (text, random generator, ranges): the same seed gives the same pixels.
A scene is a textured background, a phone (dark body, bright screen, the code with its
quiet zone) placed by a random perspective transform, then the camera's flaws: defocus
and motion blur, a glare blob from ceiling lights, low contrast and sensor noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import segno

from hardware.frames.base import Image

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class SceneRanges:
    """The ranges each scene parameter is drawn from (uniformly)."""

    #: side of one QR module in frame pixels
    module_px: Span = (2.2, 6.0)
    #: in-plane rotation of the phone, degrees
    rotation_deg: Span = (-35.0, 35.0)
    #: how far corners move for perspective, as a fraction of the phone's size
    tilt: Span = (0.0, 0.12)
    #: Gaussian defocus sigma in frame pixels
    defocus_sigma: Span = (0.0, 1.6)
    #: motion blur streak length in frame pixels (0 = none)
    motion_px: Span = (0.0, 6.0)
    #: sensor noise standard deviation, grey levels
    noise_sigma: Span = (1.0, 10.0)
    #: contrast factor applied around mid-grey (1 = untouched)
    contrast: Span = (0.45, 1.0)
    #: peak brightness added by the glare blob (0 = none)
    glare_peak: Span = (0.0, 170.0)
    #: screen brightness (light modules) and dark-module level
    screen_white: Span = (185.0, 250.0)
    screen_black: Span = (5.0, 70.0)


#: What the kiosk camera meets at a real gate: small, tilted, blurred, glared codes.
REALISTIC = SceneRanges()

#: Well-behaved scenes: a code every decoder should read (used by tests and the demo).
MILD = SceneRanges(
    module_px=(4.0, 6.0),
    rotation_deg=(-10.0, 10.0),
    tilt=(0.0, 0.04),
    defocus_sigma=(0.0, 0.6),
    motion_px=(0.0, 1.0),
    noise_sigma=(0.0, 3.0),
    contrast=(0.85, 1.0),
    glare_peak=(0.0, 30.0),
    screen_white=(220.0, 250.0),
    screen_black=(5.0, 30.0),
)

FRAME_SIZE = (1280, 720)


@dataclass(frozen=True, slots=True)
class RenderedScene:
    """A rendered frame plus what a perfect reader would find in it."""

    image: Image
    #: the text encoded in the visible code, ``None`` for an empty scene
    text: str | None
    #: the code's corners (without quiet zone) in frame pixels, clockwise from top-left
    corners: npt.NDArray[np.float32] | None


def qr_modules(text: str) -> npt.NDArray[np.bool_]:
    """The QR symbol for ``text`` as a boolean matrix (True = dark), no quiet zone."""
    code = segno.make_qr(text, error="m", boost_error=False)
    return np.array(code.matrix, dtype=np.uint8).astype(bool)


def render_scene(
    text: str | None,
    rng: np.random.Generator,
    ranges: SceneRanges = REALISTIC,
    size: tuple[int, int] = FRAME_SIZE,
) -> RenderedScene:
    """Render one grayscale camera frame showing ``text`` as a QR on a phone, or no code."""
    width, height = size
    frame = _background(rng, width, height)
    corners = None
    if text is not None:
        corners = _place_phone(frame, qr_modules(text), rng, ranges)
    else:
        # A phone without a code (lock screen) keeps empty frames from being trivially empty.
        if rng.random() < 0.5:
            _place_phone(frame, None, rng, ranges)
    return RenderedScene(image=_camera_flaws(frame, rng, ranges), text=text, corners=corners)


def _uniform(rng: np.random.Generator, span: Span) -> float:
    return float(rng.uniform(span[0], span[1]))


def _background(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.float32]:
    """A smooth gradient with a few soft shapes (a wall, a coat, a sleeve).

    Drawn at quarter resolution and scaled up: it is blurred anyway, and this keeps
    rendering cheap enough for the kiosk simulation.
    """
    w, h = max(width // 4, 1), max(height // 4, 1)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xs * math.cos(angle) + ys * math.sin(angle)) / max(w, h)
    small = np.ascontiguousarray(rng.uniform(50, 140) + rng.uniform(-40, 40) * ramp, np.float32)
    for _ in range(int(rng.integers(2, 6))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(15, 100)), int(rng.integers(15, 75)))
        cv2.ellipse(
            small, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(20, 200)), -1
        )
    small = _f32(cv2.GaussianBlur(small, (0, 0), 2.5))
    return _f32(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR))


def _place_phone(
    frame: npt.NDArray[np.float32],
    modules: npt.NDArray[np.bool_] | None,
    rng: np.random.Generator,
    ranges: SceneRanges,
) -> npt.NDArray[np.float32] | None:
    """Draw a phone (with the code when given) into ``frame``; return the code's corners."""
    height, width = frame.shape
    n = modules.shape[0] if modules is not None else 33
    module_px = _uniform(rng, ranges.module_px)
    # Render the flat phone at 2× the frame scale so the warp antialiases.
    unit = 2.0 * module_px
    quiet = 4
    code_side = n + 2 * quiet
    screen_w, screen_h = code_side + 4, int(code_side * 1.8)
    body_margin = 3
    flat_w = round((screen_w + 2 * body_margin) * unit)
    flat_h = round((screen_h + 2 * body_margin) * unit)
    white = _uniform(rng, ranges.screen_white)
    black = _uniform(rng, ranges.screen_black)
    flat = np.full((flat_h, flat_w), 25.0, dtype=np.float32)
    sx0, sy0 = int(body_margin * unit), int(body_margin * unit)
    sx1, sy1 = flat_w - sx0, flat_h - sy0
    flat[sy0:sy1, sx0:sx1] = white
    code_x = sx0 + 2 * unit + quiet * unit
    code_y = sy0 + (screen_h - code_side) / 2 * unit + quiet * unit
    code_corners_flat = None
    if modules is not None:
        side = round(n * unit)
        tile = cv2.resize(
            np.where(modules, black, white).astype(np.float32),
            (side, side),
            interpolation=cv2.INTER_NEAREST,
        )
        x, y = round(code_x), round(code_y)
        flat[y : y + side, x : x + side] = tile
        code_corners_flat = np.array(
            [[x, y], [x + side, y], [x + side, y + side], [x, y + side]], dtype=np.float32
        )
    src = np.array([[0, 0], [flat_w, 0], [flat_w, flat_h], [0, flat_h]], dtype=np.float32)
    dst = _phone_quad(rng, ranges, flat_w / 2.0, flat_h / 2.0, width, height)
    homography = cv2.getPerspectiveTransform(src, dst)
    # Warping with a zero border gives the phone premultiplied by its coverage mask.
    warped = cv2.warpPerspective(flat, homography, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.ones_like(flat), homography, (width, height), flags=cv2.INTER_LINEAR
    )
    np.copyto(frame, frame * (1.0 - mask) + warped)
    if code_corners_flat is None:
        return None
    return _f32(cv2.perspectiveTransform(code_corners_flat[None], homography)[0])


def _phone_quad(
    rng: np.random.Generator,
    ranges: SceneRanges,
    half_w: float,
    half_h: float,
    width: int,
    height: int,
) -> npt.NDArray[np.float32]:
    """Where the phone's corners land in the frame: scaled by ½, rotated, tilted, inside."""
    hw, hh = half_w / 2.0, half_h / 2.0
    corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], dtype=np.float32)
    tilt = _uniform(rng, ranges.tilt)
    corners += rng.uniform(-tilt, tilt, size=(4, 2)).astype(np.float32) * np.array(
        [2 * hw, 2 * hh], dtype=np.float32
    )
    theta = math.radians(_uniform(rng, ranges.rotation_deg))
    rotation = np.array(
        [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
        dtype=np.float32,
    )
    corners = corners @ rotation.T
    span = corners.max(axis=0) - corners.min(axis=0)
    # Mostly inside the frame; a phone larger than the frame is centred (its code still shows).
    lo = -corners.min(axis=0)
    hi = np.array([width, height], dtype=np.float32) - corners.max(axis=0)
    centre = np.where(
        span < [width, height],
        rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi)),
        np.array([width / 2, height / 2]),
    )
    return (corners + centre.astype(np.float32)).astype(np.float32)


def _camera_flaws(
    frame: npt.NDArray[np.float32], rng: np.random.Generator, ranges: SceneRanges
) -> Image:
    glare = _uniform(rng, ranges.glare_peak)
    if glare > 1.0:
        _add_glare(frame, rng, glare)
    sigma = _uniform(rng, ranges.defocus_sigma)
    if sigma > 0.3:
        frame = _f32(cv2.GaussianBlur(frame, (0, 0), sigma))
    streak = _uniform(rng, ranges.motion_px)
    if streak >= 1.5:
        kernel = _motion_kernel(streak, float(rng.uniform(0, 180)))
        frame = _f32(cv2.filter2D(frame, -1, kernel))
    contrast = _uniform(rng, ranges.contrast)
    frame = _f32(128.0 + (frame - 128.0) * contrast + rng.uniform(-20, 20) * (1.0 - contrast))
    noise = _uniform(rng, ranges.noise_sigma)
    if noise > 0:
        frame = frame + rng.normal(0.0, noise, size=frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _add_glare(frame: npt.NDArray[np.float32], rng: np.random.Generator, peak: float) -> None:
    """Add an elliptical Gaussian highlight (a ceiling light reflected by the screen)."""
    height, width = frame.shape
    cx, cy = float(rng.uniform(0, width)), float(rng.uniform(0, height))
    ax, ay = float(rng.uniform(25, 130)), float(rng.uniform(15, 80))
    theta = float(rng.uniform(0, math.pi))
    reach = int(3 * max(ax, ay))
    x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach, width)
    y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach, height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u = (xs - cx) * math.cos(theta) + (ys - cy) * math.sin(theta)
    v = -(xs - cx) * math.sin(theta) + (ys - cy) * math.cos(theta)
    frame[y0:y1, x0:x1] += peak * np.exp(-0.5 * ((u / ax) ** 2 + (v / ay) ** 2))


def _motion_kernel(length: float, angle_deg: float) -> npt.NDArray[np.float32]:
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), dtype=np.float32)
    kernel[size // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle_deg, 1.0)
    rotated = _f32(cv2.warpAffine(kernel, rotation, (size, size)))
    return _f32(rotated / max(float(rotated.sum()), 1e-6))


def _f32(array: object) -> npt.NDArray[np.float32]:
    """``array`` as float32 (no copy when it already is; OpenCV's stubs lose the dtype)."""
    return np.asarray(array, dtype=np.float32)
