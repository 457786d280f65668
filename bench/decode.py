"""Decoding figures, side by side in one run: raw pyzbar, raw zxing-cpp, Admit ``auto``.

    python bench/decode.py [--samples DIR] [--frames N] [--seed S]

(a) the QR sample photographs (``NAME.ext`` with the expected text in ``NAME.txt``):
    decoded / total and mean / median ms per image;
(b) N synthetic 1280×720 gate-camera frames of a phone showing a 120-character
    alphanumeric credential: decoded count and median / p90 ms per frame.
OpenCV runs on one thread (``cv2.setNumThreads(1)``) so figures are per core. Decode time
excludes reading or rendering the image. The last table says which cascade pass read what.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine_info import cpu_model

from hardware.decoders import DecodedCode, Image, build_auto_cascade
from hardware.decoders.zbar import ZbarDecoder
from hardware.frames.scene import REALISTIC, render_scene
from hardware.frames.synthetic import random_credential_texts

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLES = (REPO / ".." / "shared" / "qr-samples").resolve()


@dataclass
class Tally:
    decoded: int = 0
    total: int = 0
    ms: list[float] = field(default_factory=list)
    found_by: Counter[str] = field(default_factory=Counter)

    def add(self, ok: bool, ms: float, found_by: str | None) -> None:
        self.total += 1
        self.decoded += ok
        self.ms.append(ms)
        if found_by:
            self.found_by[found_by] += 1


def raw_zxing() -> Callable[[Image], list[str]]:
    import zxingcpp

    qr_only = zxingcpp.barcode_formats_from_str("QRCode")

    def decode(image: Image) -> list[str]:
        # Library defaults, restricted to QR: what a user of zxing-cpp gets out of the box.
        return [b.text for b in zxingcpp.read_barcodes(image, formats=qr_only)]

    return decode


def raw_zbar() -> Callable[[Image], list[str]]:
    zbar = ZbarDecoder()
    return lambda image: [c.text for c in zbar.decode(image)]


def timed(
    decode: Callable[[Image], list[DecodedCode]], image: Image
) -> tuple[list[DecodedCode], float]:
    started = time.perf_counter()
    codes = decode(image)
    return codes, (time.perf_counter() - started) * 1000.0


def sample_images(root: Path) -> Iterator[tuple[str, Image, str]]:
    for text_file in sorted(root.glob("*/*.txt")):
        for path in sorted(text_file.parent.glob(text_file.stem + ".*")):
            if path.suffix == ".txt":
                continue
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is not None:
                expected = text_file.read_bytes().decode("utf-8")
                yield str(path), np.asarray(image, dtype=np.uint8), expected


def synthetic_frames(count: int, seed: int) -> Iterator[tuple[str, Image, str]]:
    rng = np.random.default_rng(seed)
    texts = random_credential_texts(rng, 120)
    for index in range(count):
        text = next(texts)
        yield f"frame {index}", render_scene(text, rng, REALISTIC).image, text


def run_set(frames: Iterator[tuple[str, Image, str]]) -> dict[str, Tally]:
    decoders: dict[str, Callable[[Image], list[DecodedCode] | list[str]]] = {}
    try:
        decoders["pyzbar (raw)"] = raw_zbar()
    except Exception as exc:  # a missing libzbar must not stop the other columns
        print(f"pyzbar unavailable: {exc}")
    decoders["zxing-cpp (raw)"] = raw_zxing()
    cascade = build_auto_cascade()
    tallies = {name: Tally() for name in [*decoders, "Admit auto"]}
    for _, image, expected in frames:
        for name, decode in decoders.items():
            started = time.perf_counter()
            texts = decode(image)
            ms = (time.perf_counter() - started) * 1000.0
            tallies[name].add(expected in texts, ms, None)
        started = time.perf_counter()
        trace = cascade.trace(image)
        ms = (time.perf_counter() - started) * 1000.0
        hit = next((c for c in trace.codes if c.text == expected), None)
        tallies["Admit auto"].add(hit is not None, ms, hit.found_by if hit else None)
    return tallies


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def print_machine() -> None:
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}")
    print(f"zxing-cpp {version('zxing-cpp')}, pyzbar {version('pyzbar')}, segno {version('segno')}")
    print("OpenCV threads: 1 (cv2.setNumThreads(1)); decoders are single-threaded")


def print_table(title: str, tallies: dict[str, Tally], tail: str) -> None:
    print(f"\n{title}")
    header = f"{'decoder':<18}{'decoded':>10}{'mean ms':>10}{'median ms':>11}{'p90 ms':>9}"
    print(header)
    print("-" * len(header))
    for name, t in tallies.items():
        print(
            f"{name:<18}{f'{t.decoded}/{t.total}':>10}{statistics.fmean(t.ms):>10.2f}"
            f"{statistics.median(t.ms):>11.2f}{percentile(t.ms, 90):>9.2f}"
        )
    found = tallies["Admit auto"].found_by
    print(f"{tail}: " + ", ".join(f"{name} {n}" for name, n in found.most_common()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="QR sample folder")
    parser.add_argument("--frames", type=int, default=300, help="synthetic frames (default 300)")
    parser.add_argument("--seed", type=int, default=2024, help="synthetic scene seed")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    print_machine()
    if args.samples.is_dir():
        print_table(
            f"(a) sample photographs: {args.samples}",
            run_set(sample_images(args.samples)),
            "auto: read by pass",
        )
    else:
        print(f"\n(a) skipped: no sample folder at {args.samples}")
    print_table(
        f"(b) {args.frames} synthetic 1280x720 frames, 120-char credential, seed {args.seed}",
        run_set(synthetic_frames(args.frames, args.seed)),
        "auto: read by pass",
    )


if __name__ == "__main__":
    main()
