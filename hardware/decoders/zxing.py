"""zxing-cpp backend: the fast, robust default decoder."""

from __future__ import annotations

from hardware.decoders.base import DecodedCode, DecoderUnavailable, Image, to_gray


class ZxingDecoder:
    """QR codes via ``zxingcpp.read_barcodes``, restricted to QR Code for speed.

    Text comes back in zxing's ``Plain`` text mode: the bytes the code holds, transcoded
    to text, with no human-readable decoration (GS1 brackets, ``<SOH>`` escapes) that
    would change what the kiosk validates.
    """

    def __init__(
        self,
        *,
        name: str = "zxing",
        try_invert: bool = False,
    ) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise DecoderUnavailable(
                "zxing-cpp is not installed: pip install 'admit[kiosk]' (or zxing-cpp)"
            ) from exc
        self._zxingcpp = zxingcpp
        self.name = name
        self._try_invert = try_invert

    def decode(self, image: Image) -> list[DecodedCode]:
        zxingcpp = self._zxingcpp
        found = zxingcpp.read_barcodes(
            to_gray(image),
            formats=zxingcpp.BarcodeFormat.QRCode,
            try_rotate=False,  # QR detection is rotation invariant; this is for 1D codes
            try_invert=self._try_invert,
            try_downscale=True,
            text_mode=zxingcpp.TextMode.Plain,
        )
        return [
            DecodedCode(
                text=barcode.text,
                format="QRCode",
                corners=(
                    (float(p.top_left.x), float(p.top_left.y)),
                    (float(p.top_right.x), float(p.top_right.y)),
                    (float(p.bottom_right.x), float(p.bottom_right.y)),
                    (float(p.bottom_left.x), float(p.bottom_left.y)),
                ),
                found_by=self.name,
            )
            for barcode in found
            for p in (barcode.position,)
        ]
