"""``admit decode``: the kiosk's QR pipeline on image files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from hardware.decoders import (
    BACKENDS,
    DecodedCode,
    Decoder,
    DecoderUnavailable,
    Image,
    open_decoder,
)


def read_image_file(path: Path) -> Image:
    """The image at ``path`` as a grayscale array; raises ``ValueError`` saying why not."""
    import cv2
    import numpy as np

    if not path.exists():
        raise ValueError("no such file")
    if path.is_dir():
        raise ValueError("is a directory")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ValueError(f"cannot read file: {exc.strerror or exc}") from exc
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise ValueError("not a readable image")
    return np.asarray(image, dtype=np.uint8)


def decode_file(decoder: Decoder, path: Path) -> dict[str, object]:
    """One result line: file, codes, decode milliseconds, or an error."""
    try:
        image = read_image_file(path)
    except ValueError as exc:
        return {"file": str(path), "codes": [], "ms": None, "error": str(exc)}
    started = time.perf_counter()
    codes: list[DecodedCode] = decoder.decode(image)
    elapsed = (time.perf_counter() - started) * 1000.0
    return {"file": str(path), "codes": [c.to_json() for c in codes], "ms": round(elapsed, 3)}


@click.command(name="decode")
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="auto: the kiosk's cascade; zxing: zxing-cpp alone; zbar: pyzbar alone.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, per file.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def decode(backend: str, as_json: bool, files: tuple[Path, ...]) -> None:
    """Decode QR codes in image FILES with the kiosk's own pipeline.

    Each file is read as grayscale (PNG, JPEG, WebP, BMP, TIFF...) and decoded; the time
    shown is the decode alone, not reading the file. A missing or unreadable file is
    reported and the run goes on.

    \b
    With --json, every file gives exactly one line:
      {"file": "a.png", "codes": [{"text": ..., "format": "QRCode",
       "corners": [[x, y], ...], "found_by": "zxing"}], "ms": 1.234}
    and a file that could not be read gives
      {"file": "b.png", "codes": [], "ms": null, "error": "not a readable image"}

    \b
    Exit status: 0 when every file was read (found codes or not),
    1 when any file could not be read, 2 for usage errors.

    \b
    Examples:
      admit decode ticket.jpg
      admit decode --json frames/*.png | jq -r '.codes[].text'
      admit decode --backend zbar photo.webp
    """
    try:
        decoder = open_decoder(backend)
    except DecoderUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    failed = False
    for path in files:
        result = decode_file(decoder, path)
        failed |= "error" in result
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            _print_human(result)
    sys.exit(1 if failed else 0)


def _print_human(result: dict[str, object]) -> None:
    name = result["file"]
    if "error" in result:
        click.secho(f"{name}: error: {result['error']}", fg="red", err=True)
        return
    codes = result["codes"]
    assert isinstance(codes, list)
    if not codes:
        click.echo(f"{name}: no code ({result['ms']} ms)")
        return
    for code in codes:
        click.echo(f"{name}: {code['text']!r} (by {code['found_by']}, {result['ms']} ms)")
