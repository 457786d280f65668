"""The ``admit`` entry point lists every component's commands and loads them lazily."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import admit_cli


def test_help_lists_every_contract_command() -> None:
    result = CliRunner().invoke(admit_cli.main, ["--help"])
    assert result.exit_code == 0
    for name in ("demo", "server", "kiosk", "decode", "keys"):
        assert name in result.output


@pytest.mark.parametrize("name", sorted(admit_cli.LAZY_COMMANDS))
def test_every_lazy_command_resolves_to_a_click_command(name: str) -> None:
    command = admit_cli.main.get_command(click.Context(admit_cli.main), name)
    assert isinstance(command, click.Command)
    assert not hasattr(command, "missing_dependency"), getattr(command, "missing_dependency", "")
    result = CliRunner().invoke(admit_cli.main, [name, "--help"])
    assert result.exit_code == 0, result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(admit_cli.main, ["fly"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        admit_cli.LAZY_COMMANDS, "server", ("no_such_module_for_admit", "server", "Run it.")
    )
    result = CliRunner().invoke(admit_cli.main, ["server", "--port", "1"])
    assert result.exit_code == 1
    assert "pip install 'admit[server]'" in result.output


def test_console_script_runs_as_a_process() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "admit_cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "Admit" in completed.stdout
