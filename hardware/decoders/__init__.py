"""QR decoders behind one interface: ``decoder.decode(image) -> list[DecodedCode]``.

Backends are imported only when chosen: ``zxing`` (zxing-cpp), ``zbar`` (pyzbar, needs
libzbar0) and ``auto``, the kiosk's cascade built on both.
"""

from hardware.decoders.base import DecodedCode, Decoder, DecoderUnavailable, Image
from hardware.decoders.cascade import CascadeDecoder, DecodeTrace
from hardware.decoders.registry import BACKENDS, BackendName, build_auto_cascade, open_decoder

__all__ = [
    "BACKENDS",
    "BackendName",
    "CascadeDecoder",
    "DecodeTrace",
    "DecodedCode",
    "Decoder",
    "DecoderUnavailable",
    "Image",
    "build_auto_cascade",
    "open_decoder",
]
