"""pyzbar backend: a second opinion from a different QR implementation (ZBar)."""

from __future__ import annotations

from hardware.decoders.base import DecodedCode, DecoderUnavailable, Image, to_gray


class ZbarDecoder:
    """QR codes via ``pyzbar.decode`` (needs the ``libzbar0`` shared library)."""

    def __init__(self, *, name: str = "zbar") -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as exc:
            # pyzbar raises ImportError both when the package and when libzbar is missing.
            raise DecoderUnavailable(
                f"zbar is unavailable ({exc}); install the library with "
                "'sudo apt install libzbar0' and the package with 'pip install pyzbar'"
            ) from exc
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]
        self.name = name

    def decode(self, image: Image) -> list[DecodedCode]:
        codes = []
        for symbol in self._pyzbar.decode(to_gray(image), symbols=self._symbols):
            rect = symbol.rect
            x0, y0 = float(rect.left), float(rect.top)
            x1, y1 = x0 + rect.width, y0 + rect.height
            codes.append(
                DecodedCode(
                    text=symbol.data.decode("utf-8", errors="replace"),
                    format="QRCode",
                    corners=((x0, y0), (x1, y0), (x1, y1), (x0, y1)),
                    found_by=self.name,
                )
            )
        return codes
