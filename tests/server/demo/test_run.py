"""The demo's folder is wiped only when the demo made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.demo.run import MARKER, DemoError, prepare_data_dir


def test_a_new_folder_is_made_and_marked(tmp_path: Path) -> None:
    folder = prepare_data_dir(tmp_path / "demo")
    assert (folder / MARKER).exists()


def test_the_demo_s_own_folder_is_emptied(tmp_path: Path) -> None:
    folder = prepare_data_dir(tmp_path / "demo")
    (folder / "admit.sqlite3").write_text("old run")
    prepare_data_dir(folder)
    assert sorted(path.name for path in folder.iterdir()) == [MARKER]


def test_someone_else_s_folder_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(DemoError, match="not made by 'admit demo'"):
        prepare_data_dir(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_an_empty_folder_is_taken(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert (prepare_data_dir(tmp_path / "empty") / MARKER).exists()
