"""Decoder backends and the auto cascade on real sample photographs and synthetic frames."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.decoders import (
    CascadeDecoder,
    DecoderUnavailable,
    Image,
    build_auto_cascade,
    open_decoder,
)
from hardware.decoders.zbar import ZbarDecoder
from hardware.frames.scene import MILD, render_scene

# shared/ sits beside the repository, here and on CI (a fresh clone with shared/ beside it).
SAMPLES_DIR = Path(
    os.environ.get(
        "ADMIT_QR_SAMPLES",
        str(Path(__file__).resolve().parents[2].parent / "shared" / "qr-samples"),
    )
)


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


SAMPLES = load_samples()

#: Per subset: how many samples each backend reads (measured; regressions fail here).
EXPECTED_READS = {
    "auto": {"qrcode-1": 8, "qrcode-2": 56, "qrcode-3": 18},
    "zxing": {"qrcode-1": 8, "qrcode-2": 53, "qrcode-3": 18},
    "zbar": {"qrcode-1": 8, "qrcode-2": 29, "qrcode-3": 17},
}


def read_gray(path: Path) -> Image:
    return np.asarray(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), dtype=np.uint8)


def reads(backend: str) -> Counter[str]:
    decoder = open_decoder(backend)
    counts: Counter[str] = Counter()
    for sample in SAMPLES:
        image = read_gray(sample.path)
        if any(code.text == sample.expected for code in decoder.decode(image)):
            counts[sample.subset] += 1
    return counts


def test_sample_set_is_complete() -> None:
    assert len(SAMPLES) == 82


@pytest.mark.parametrize("backend", sorted(EXPECTED_READS))
def test_backend_reads_the_measured_samples(backend: str) -> None:
    assert dict(reads(backend)) == EXPECTED_READS[backend]


def test_auto_reads_more_samples_than_either_raw_decoder() -> None:
    totals = {name: sum(per_subset.values()) for name, per_subset in EXPECTED_READS.items()}
    assert totals["auto"] > max(totals["zxing"], totals["zbar"])


def test_inverted_codes_need_the_invert_pass() -> None:
    cascade = build_auto_cascade()
    inverted = next(s for s in SAMPLES if s.path.stem == "qr-inv-1")
    trace = cascade.trace(read_gray(inverted.path))
    assert [c.text for c in trace.codes] == [inverted.expected]
    assert trace.codes[0].found_by == "roi-invert"
    assert trace.passes_run[:2] == ("zxing", "roi-smooth")


def test_easy_frame_stops_after_the_first_pass() -> None:
    scene = render_scene("HELLO GATE 7", np.random.default_rng(1), MILD)
    trace = build_auto_cascade().trace(scene.image)
    assert [c.text for c in trace.codes] == ["HELLO GATE 7"]
    assert trace.passes_run == ("zxing",)


def test_empty_frames_skip_the_hard_passes() -> None:
    cascade = build_auto_cascade()
    rng = np.random.default_rng(3)
    for _ in range(10):
        scene = render_scene(None, rng)
        trace = cascade.trace(scene.image)
        assert trace.codes == []
        assert trace.passes_run == ("zxing",)
    flat = np.full((720, 1280), 128, np.uint8)
    assert cascade.trace(flat).passes_run == ("zxing",)


def test_textured_frame_without_code_runs_every_pass_and_finds_nothing() -> None:
    checkerboard = (np.indices((720, 1280)).sum(axis=0) // 2 % 2 * 255).astype(np.uint8)
    cascade = build_auto_cascade()
    trace = cascade.trace(checkerboard)
    assert trace.codes == []
    assert trace.passes_run == cascade.pass_names


def test_corners_map_back_to_frame_coordinates() -> None:
    scene = render_scene("CORNERS", np.random.default_rng(5), MILD)
    assert scene.corners is not None
    code = build_auto_cascade().decode(scene.image)[0]
    found = np.array(code.corners)
    assert np.abs(found.mean(axis=0) - scene.corners.mean(axis=0)).max() < 10


def test_bgr_frames_decode_like_grayscale() -> None:
    scene = render_scene("COLOUR", np.random.default_rng(6), MILD)
    bgr = np.asarray(cv2.cvtColor(scene.image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    assert [c.text for c in build_auto_cascade().decode(bgr)] == ["COLOUR"]


def test_results_are_unique_by_text() -> None:
    scene = render_scene("TWICE", np.random.default_rng(8), MILD)
    doubled = np.hstack([scene.image, scene.image])
    assert [c.text for c in open_decoder("auto").decode(doubled)] == ["TWICE"]


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown decoder backend"):
        open_decoder("tesseract")


def test_rejects_images_that_are_not_gray_or_bgr() -> None:
    with pytest.raises(ValueError, match="grayscale or BGR"):
        open_decoder("zxing").decode(np.zeros((4, 4, 4), np.uint8))


def test_zbar_reports_missing_library(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_zbar(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("pyzbar"):
            raise ImportError("Unable to find zbar shared library")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_zbar)
    with pytest.raises(DecoderUnavailable, match="libzbar0"):
        ZbarDecoder()
    cascade = build_auto_cascade()
    assert isinstance(cascade, CascadeDecoder)
    assert "roi-binarize-zbar" not in cascade.pass_names
