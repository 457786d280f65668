"""The protocol's MicroPython core, tested for real: the unix port runs the tests/micropython
scripts, mpy-cross compiles every core module, and mypy checks them against MicroPython's
standard library stubs."""

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "tests" / "micropython").glob("mp_*.py"))
#: protocol/ modules a microcontroller gate needs; they must run unchanged under MicroPython.
MP_CORE = ("base45", "credential", "reasons", "codes", "allowlist", "topics", "messages")


def _venv_tool(name: str) -> str:
    """A console script of the test environment: next to the interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    assert found is not None, name + " not installed (dev extra)"
    return found


def _core_module(name: str) -> Path:
    path = REPO / "protocol" / (name + ".py")
    assert path.exists(), "MicroPython core module protocol/" + name + ".py is missing"
    return path


def test_scripts_exist_for_topics_and_messages() -> None:
    assert {path.name for path in SCRIPTS} >= {"mp_topics.py", "mp_messages.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_script_passes_under_micropython(script: Path) -> None:
    env = dict(os.environ, MICROPYPATH=str(REPO) + os.pathsep + ".frozen")
    result = subprocess.run(
        [_venv_tool("micropython"), str(script.relative_to(REPO))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.strip().splitlines()[-1:] == ["OK"], output


def test_micropython_is_micropython() -> None:
    result = subprocess.run(
        [_venv_tool("micropython"), "-c", "import sys; print(sys.implementation.name)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "micropython"


@pytest.mark.parametrize("module", MP_CORE)
def test_core_module_compiles_with_mpy_cross(module: str, tmp_path: Path) -> None:
    source = _core_module(module)
    target = tmp_path / (module + ".mpy")
    result = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:1] == b"M"  # the .mpy magic byte


def test_core_modules_type_check_against_micropython_stubs(tmp_path: Path) -> None:
    """mypy strict with MicroPython's standard library stubs in place of CPython's typeshed:
    catches calls into stdlib APIs that MicroPython lacks. Unused ignores are allowed here:
    they are the ones CPython's typeshed needs (e.g. a MicroPython fallback import)."""
    typeshed = Path(str(metadata.distribution("micropython-stdlib-stubs").locate_file("")))
    assert (typeshed / "stdlib" / "VERSIONS").exists(), typeshed
    sources = [str(_core_module(name).relative_to(REPO)) for name in MP_CORE]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-warn-unused-ignores",
            "--custom-typeshed-dir",
            str(typeshed),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            *sources,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
