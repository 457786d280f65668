"""Synthetic ticket scenes: reproducible by seed, decodable when mild, honest about content."""

from __future__ import annotations

import itertools

import numpy as np

from hardware.decoders import open_decoder
from hardware.frames.scene import MILD, qr_modules, render_scene
from hardware.frames.synthetic import ALPHANUMERIC, SyntheticSource, random_credential_texts


def test_same_seed_same_pixels() -> None:
    a = SyntheticSource(seed=42)
    b = SyntheticSource(seed=42)
    for _ in range(3):
        fa, fb = a.read(), b.read()
        assert fa is not None and fb is not None
        assert np.array_equal(fa.image, fb.image)
    c = SyntheticSource(seed=43).read()
    assert c is not None and not np.array_equal(c.image, SyntheticSource(seed=42).read().image)  # type: ignore[union-attr]


def test_frames_are_720p_grayscale_or_bgr() -> None:
    frame = SyntheticSource(seed=1).read()
    assert frame is not None and frame.image.shape == (720, 1280) and frame.image.dtype == np.uint8
    bgr = SyntheticSource(seed=1, bgr=True).read()
    assert bgr is not None and bgr.image.shape == (720, 1280, 3)


def test_mild_scenes_decode_to_the_fed_texts() -> None:
    texts = [f"TICKET{i:04d}" for i in range(8)]
    decoder = open_decoder("auto")
    with SyntheticSource(iter(texts), seed=7, ranges=MILD) as source:
        for expected in texts:
            frame = source.read()
            assert frame is not None
            assert [c.text for c in decoder.decode(frame.image)] == [expected]


def test_empty_every_gives_frames_without_code() -> None:
    counter = itertools.count()
    source = SyntheticSource(lambda: f"N{next(counter)}", seed=2, empty_every=3)
    shown = []
    for _ in range(6):
        source.read()
        assert source.last_scene is not None
        shown.append(source.last_scene.text)
    assert shown == ["N0", "N1", None, "N2", "N3", None]


def test_feed_returning_none_renders_no_code() -> None:
    scene = render_scene(None, np.random.default_rng(0))
    assert scene.text is None and scene.corners is None
    assert open_decoder("zxing").decode(scene.image) == []


def test_clock_stamps_frames() -> None:
    ticks = iter([5.0, 6.0])
    source = SyntheticSource(seed=0, clock=lambda: next(ticks))
    stamps = [f.timestamp for f in (source.read(), source.read()) if f is not None]
    assert stamps == [5.0, 6.0]


def test_credential_texts_are_alphanumeric_and_sized() -> None:
    texts = list(itertools.islice(random_credential_texts(np.random.default_rng(0), 100), 3))
    assert all(len(t) == 100 and set(t) <= set(ALPHANUMERIC) for t in texts)
    assert len(set(texts)) == 3


def test_qr_modules_are_a_square_boolean_matrix() -> None:
    modules = qr_modules("A" * 50)
    assert modules.dtype == bool and modules.shape[0] == modules.shape[1] >= 21
    # The three finder patterns' dark corners.
    assert modules[0, 0] and modules[0, -1] and modules[-1, 0]
