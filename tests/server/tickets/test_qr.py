"""QR images decode back to the text they were made from."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from server.tickets.qr import ImageFormat, render_qr

CREDENTIAL_LIKE = "NCF-A3Y:TTOVJ 7F5C8L0HQ$1SHUG0/*MA%Q8"


def decode_png(png: bytes) -> list[str]:
    """The texts of the QR codes in a PNG (OpenCV reads it, zxing-cpp decodes)."""
    gray = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    return [result.text for result in zxingcpp.read_barcodes(gray)]


def png_width(png: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None, "not a PNG"
    return int(image.shape[1])


def test_png_decodes_back_to_the_text() -> None:
    png = render_qr(CREDENTIAL_LIKE, ImageFormat.PNG, scale=4, border=4)
    assert decode_png(png) == [CREDENTIAL_LIKE]


def test_scale_and_border_change_the_png_size() -> None:
    modules = png_width(render_qr("ABC", ImageFormat.PNG, scale=2, border=0)) // 2
    assert png_width(render_qr("ABC", ImageFormat.PNG, scale=4, border=4)) == (modules + 8) * 4


def test_svg_is_an_svg_document() -> None:
    svg = render_qr("ABC", ImageFormat.SVG, scale=3, border=2).decode()
    assert "<svg" in svg and "</svg>" in svg
