"""The shared QR sample photographs (zxing-cpp's black-box set) with their expected texts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SAMPLES_DIR = Path(os.environ.get("ADMIT_QR_SAMPLES", "/work/shared/qr-samples"))


@dataclass(frozen=True)
class Sample:
    path: Path
    expected: str

    @property
    def subset(self) -> str:
        return self.path.parent.name


def load_samples(root: Path = SAMPLES_DIR) -> list[Sample]:
    samples = []
    for text_file in sorted(root.glob("*/*.txt")):
        images = [p for p in text_file.parent.glob(text_file.stem + ".*") if p.suffix != ".txt"]
        for image in images:
            # Bytes, not text mode: the expected texts hold \r\n that must not be translated.
            samples.append(Sample(image, text_file.read_bytes().decode("utf-8")))
    return samples
