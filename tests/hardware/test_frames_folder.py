"""Replaying image folders: order, looping, pacing, unreadable files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.frames.folder import FolderSource


class FakeTime:
    """A clock and a sleep that advances it, so pacing is checked without waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # Written out of order; each image's fill value says its sorted position.
    for name, value in [("c.png", 3), ("a.png", 1), ("b.jpg", 2)]:
        cv2.imwrite(str(tmp_path / name), np.full((8, 8), value * 40, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    return tmp_path


def fills(source: FolderSource, count: int) -> list[int | None]:
    result: list[int | None] = []
    for _ in range(count):
        frame = source.read()
        result.append(None if frame is None else round(int(frame.image[0, 0]) / 40))
    return result


def test_plays_in_sorted_order_then_ends(folder: Path) -> None:
    with FolderSource(folder) as source:
        assert fills(source, 5) == [1, 2, 3, None, None]


def test_loops_forever_when_asked(folder: Path) -> None:
    with FolderSource(folder, loop=True) as source:
        assert fills(source, 7) == [1, 2, 3, 1, 2, 3, 1]


def test_frames_carry_clock_time_and_index(folder: Path) -> None:
    fake = FakeTime()
    with FolderSource(folder, clock=fake.clock) as source:
        first = source.read()
        fake.now += 2.5
        second = source.read()
    assert first is not None and second is not None
    assert (first.index, first.timestamp) == (0, 100.0)
    assert (second.index, second.timestamp) == (1, 102.5)
    assert first.is_gray


def test_fps_paces_reads_through_the_injected_sleep(folder: Path) -> None:
    fake = FakeTime()
    with FolderSource(folder, fps=10, clock=fake.clock, sleep=fake.sleep) as source:
        source.read()
        fake.now += 0.03
        source.read()
        source.read()
    assert fake.sleeps == pytest.approx([0.07, 0.1])


def test_folder_of_only_unreadable_files_ends_even_when_looping(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"nope")
    with FolderSource(tmp_path, loop=True) as source:
        assert source.read() is None


def test_color_mode_keeps_three_channels(folder: Path) -> None:
    with FolderSource(folder, grayscale=False) as source:
        frame = source.read()
    assert frame is not None and frame.image.shape == (8, 8, 3)
