"""QR images of a credential (segno), PNG or SVG.

The credential is base45, every character of which is in QR's alphanumeric set, so segno picks
alphanumeric mode and the smallest version. Error correction "M" survives a cracked phone screen
or a crease in paper while keeping the modules large.
"""

from __future__ import annotations

import enum
import io

import segno

MIN_SCALE = 1
MAX_SCALE = 40
DEFAULT_SCALE = 8
MIN_BORDER = 0
MAX_BORDER = 16
#: The quiet zone the QR standard asks for, in modules.
DEFAULT_BORDER = 4
ERROR_CORRECTION = "m"


class ImageFormat(enum.StrEnum):
    PNG = "png"
    SVG = "svg"


MEDIA_TYPES = {ImageFormat.PNG: "image/png", ImageFormat.SVG: "image/svg+xml"}


def render_qr(text: str, image_format: ImageFormat, *, scale: int, border: int) -> bytes:
    """The QR code of ``text`` as an image; ``scale`` is pixels (PNG) or units (SVG) per module."""
    qr = segno.make(text, error=ERROR_CORRECTION, micro=False, boost_error=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind=image_format.value, scale=scale, border=border)
    return buffer.getvalue()
