"""Frame sources behind one interface: ``with source: frame = source.read()``.

Backends (imported only when chosen): ``picamera2`` (Pi camera), ``opencv`` (USB camera
over V4L2), ``folder`` (image replay) and ``synthetic`` (rendered ticket scenes).
"""

from hardware.frames.base import Clock, Frame, FrameSource, FrameSourceError, Image
from hardware.frames.factory import open_frame_source
from hardware.frames.spec import KINDS, FrameSourceSpec, parse_spec

__all__ = [
    "KINDS",
    "Clock",
    "Frame",
    "FrameSource",
    "FrameSourceError",
    "FrameSourceSpec",
    "Image",
    "open_frame_source",
    "parse_spec",
]
