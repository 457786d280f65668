"""Open a frame source from a spec string or a kiosk.toml table."""

from __future__ import annotations

import time
from collections.abc import Mapping

from hardware.frames.base import Clock, FrameSource, FrameSourceError
from hardware.frames.spec import FrameSourceSpec, parse_spec, spec_from_mapping


def open_frame_source(
    spec: str | FrameSourceSpec | Mapping[str, object],
    *,
    clock: Clock = time.monotonic,
) -> FrameSource:
    """Build the source ``spec`` names; its backend module is imported only now.

    ``synthetic[?seed=N&empty_every=N&mild=true]``, ``folder:PATH[?loop=true&fps=N]``,
    ``opencv[:DEVICE][?width=..&height=..&fps=..]``, ``picamera2[?width=..&height=..]``.
    Raises ``FrameSourceError`` for bad specs or options.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    elif not isinstance(spec, FrameSourceSpec):
        spec = spec_from_mapping(spec)
    if spec.kind == "synthetic":
        from hardware.frames.scene import MILD, REALISTIC
        from hardware.frames.synthetic import SyntheticSource

        return SyntheticSource(
            seed=spec.option_int("seed", 0),
            ranges=MILD if spec.option_bool("mild", False) else REALISTIC,
            empty_every=spec.option_int("empty_every", 0),
            clock=clock,
        )
    if spec.kind == "folder":
        from hardware.frames.folder import FolderSource

        if not spec.target:
            raise FrameSourceError("folder source needs a path: folder:/path/to/images")
        fps = spec.option_float("fps", 0.0)
        return FolderSource(
            spec.target, loop=spec.option_bool("loop", False), fps=fps or None, clock=clock
        )
    if spec.kind == "opencv":
        from hardware.frames.opencv_camera import OpenCVCamera

        device: int | str = int(spec.target) if spec.target.isdigit() else (spec.target or 0)
        return OpenCVCamera(
            device,
            width=spec.option_int("width", 1280),
            height=spec.option_int("height", 720),
            fps=spec.option_float("fps", 30.0),
            clock=clock,
        )
    from hardware.frames.picamera import PiCamera

    return PiCamera(
        width=spec.option_int("width", 1280), height=spec.option_int("height", 720), clock=clock
    )
