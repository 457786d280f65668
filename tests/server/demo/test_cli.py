"""``admit demo`` as a user runs it: a separate process that exits by itself with a summary."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from server.demo.cli import demo


def _admit(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "admit_cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "TERM": "dumb"},
    )


def test_help_names_every_option() -> None:
    result = CliRunner().invoke(demo, ["--help"])
    assert result.exit_code == 0
    for option in ("--kiosks", "--duration", "--port", "--data-dir", "--language", "--seed"):
        assert option in result.output
    assert "Exit code 1 means kiosk scans never reached the server" in result.output


def test_a_timed_run_prints_access_and_a_clean_summary(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    run = _admit(
        "--kiosks", "2", "--duration", "4", "--port", "0", "--data-dir", str(data_dir),
        "--language", "en", timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "/dashboard?token=" in out
    assert "Platform admin" in out and "+8613800000001" in out
    assert "At the gates" in out and "Received by the server" in out
    assert "Every scan reached the server exactly once." in out
    # components log to the demo's file, not to the terminal
    assert (data_dir / "demo.log").stat().st_size > 0
    assert "uvicorn" not in out


def test_a_folder_the_demo_did_not_make_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    run = _admit("--data-dir", str(tmp_path), "--duration", "1", timeout=60)
    assert run.returncode != 0
    assert "not made by 'admit demo'" in run.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = _admit("--port", str(port), "--data-dir", str(tmp_path / "demo"), timeout=60)
    assert run.returncode != 0
    assert f"port {port} is in use" in run.stderr


def test_sigterm_ends_an_open_ended_run_with_the_summary(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "admit_cli", "demo", "--kiosks", "1", "--port", "0",
         "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "TERM": "dumb"},
    )  # fmt: skip
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if "Dashboard" in line:
                break
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()
        assert process.wait(timeout=120) == 0, rest
    finally:
        process.kill()
        process.wait()
    assert "Received by the server" in rest
    assert "kiosk outboxes drained" in rest
