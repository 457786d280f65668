"""``admit decode``: output shapes, per-file errors and exit status."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from admit_cli import main
from hardware.frames.scene import MILD, render_scene


@pytest.fixture
def ticket_png(tmp_path: Path) -> Path:
    path = tmp_path / "ticket.png"
    cv2.imwrite(str(path), render_scene("ADMIT ONE", np.random.default_rng(4), MILD).image)
    return path


@pytest.fixture
def blank_png(tmp_path: Path) -> Path:
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((100, 100), 200, np.uint8))
    return path


def run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["decode", *args])
    return result.exit_code, result.stdout.splitlines()


@pytest.mark.parametrize("backend", ["auto", "zxing", "zbar"])
def test_json_gives_one_line_per_file(backend: str, ticket_png: Path, blank_png: Path) -> None:
    code, lines = run("--json", "--backend", backend, str(ticket_png), str(blank_png))
    assert code == 0
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"file", "codes", "ms"}
    assert first["file"] == str(ticket_png)
    assert [c["text"] for c in first["codes"]] == ["ADMIT ONE"]
    assert first["codes"][0]["format"] == "QRCode"
    assert len(first["codes"][0]["corners"]) == 4
    assert isinstance(first["ms"], float) and first["ms"] >= 0
    assert second["codes"] == [] and "error" not in second


def test_missing_and_corrupt_files_are_reported_and_the_run_goes_on(
    tmp_path: Path, ticket_png: Path
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.png"
    code, lines = run(
        "--json", str(missing), str(corrupt), str(empty), str(tmp_path), str(ticket_png)
    )
    assert code == 1
    results = [json.loads(line) for line in lines]
    assert [r.get("error") for r in results] == [
        "no such file",
        "not a readable image",
        "not a readable image",
        "is a directory",
        None,
    ]
    assert all(r["codes"] == [] and r["ms"] is None for r in results[:4])
    assert [c["text"] for c in results[4]["codes"]] == ["ADMIT ONE"]


def test_human_output_names_text_and_pass(ticket_png: Path, blank_png: Path) -> None:
    code, lines = run(str(ticket_png), str(blank_png))
    assert code == 0
    assert lines[0].startswith(f"{ticket_png}: 'ADMIT ONE' (by zxing,")
    assert lines[1].startswith(f"{blank_png}: no code")


def test_help_documents_exit_status_and_examples() -> None:
    result = CliRunner().invoke(main, ["decode", "--help"])
    assert result.exit_code == 0
    assert "Exit status" in result.stdout and "admit decode --json" in result.stdout


def test_unknown_backend_is_a_usage_error(ticket_png: Path) -> None:
    code, _ = run("--backend", "ocr", str(ticket_png))
    assert code == 2
