"""Choosing a decoder by name: ``auto`` (the kiosk's cascade), ``zxing`` or ``zbar``."""

from __future__ import annotations

import logging
from typing import Literal, get_args

from hardware.decoders import passes as p
from hardware.decoders.base import Decoder, DecoderUnavailable
from hardware.decoders.cascade import CascadeDecoder
from hardware.decoders.zbar import ZbarDecoder
from hardware.decoders.zxing import ZxingDecoder

log = logging.getLogger(__name__)

BackendName = Literal["auto", "zxing", "zbar"]
BACKENDS: tuple[str, ...] = get_args(BackendName)


def build_auto_cascade() -> CascadeDecoder:
    """The kiosk's pipeline. Pass order and membership are measured: see docs/decoding.md.

    The zbar pass is left out, with a warning, where libzbar is not installed.
    """
    zxing = ZxingDecoder()
    hard_passes = [
        p.transformed("roi-smooth", zxing, p.smooth),
        p.transformed("roi-invert", zxing, p.invert),
        p.transformed("roi-sharpen", zxing, p.unsharp),
        p.transformed("roi-otsu", zxing, p.otsu, rescale=False),
    ]
    try:
        zbar = ZbarDecoder(name="zbar")
    except DecoderUnavailable as exc:
        log.warning("auto decoder runs without its zbar pass: %s", exc)
    else:
        hard_passes.append(p.transformed("roi-binarize-zbar", zbar, p.binarize))
    hard_passes.append(p.transformed("roi-despeckle", zxing, p.despeckle, rescale=False))
    return CascadeDecoder(first=zxing, passes=hard_passes)


def open_decoder(name: str = "auto") -> Decoder:
    """The decoder called ``name``; raises ``DecoderUnavailable`` or ``ValueError``."""
    if name == "auto":
        return build_auto_cascade()
    if name == "zxing":
        return ZxingDecoder(try_invert=True)
    if name == "zbar":
        return ZbarDecoder()
    raise ValueError(f"unknown decoder backend {name!r}; choose one of {', '.join(BACKENDS)}")
