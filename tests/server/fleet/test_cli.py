"""``admit server acl`` writes the ACL and password file from the registry."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from server.fleet.cli import acl
from server.settings import Settings
from tests.server.fleet.helpers import FleetWorld


def test_acl_command_writes_both_files(
    world: FleetWorld, settings: Settings, tmp_path: Path
) -> None:
    answer = world.enroll("north-1")
    out, passwords = tmp_path / "acl", tmp_path / "passwords"

    result = CliRunner().invoke(
        acl,
        ["--out", str(out), "--passwords", str(passwords), "--database-url", settings.database_url],
    )

    assert result.exit_code == 0, result.output
    username = answer["mqtt"]["username"]
    assert f"user {username}\n" in out.read_text()
    assert passwords.read_text().startswith(f"{username}:$7$101$")
