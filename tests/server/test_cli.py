"""``admit server`` subcommands against a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from admit_cli import main
from server.accounts import credentials
from server.accounts import repository as accounts_repo
from server.db import Database
from server.settings import get_settings


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ADMIT_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    get_settings.cache_clear()


def test_help_lists_the_subcommands() -> None:
    result = CliRunner().invoke(main, ["server", "--help"])
    assert result.exit_code == 0
    for name in ("create-admin", "migrate", "make-migration", "--port", "--reload"):
        assert name in result.output


def test_migrate_then_create_admin(database_file: str) -> None:
    runner = CliRunner()
    migrated = runner.invoke(main, ["server", "migrate", "--database-url", database_file])
    assert migrated.exit_code == 0, migrated.output
    created = runner.invoke(
        main,
        [
            "server",
            "create-admin",
            "--phone",
            "13800138000",
            "--password",
            "admin-password",
            "--database-url",
            database_file,
        ],
    )
    assert created.exit_code == 0, created.output
    assert "+8613800138000" in created.output
    database = Database.connect(database_file)
    try:
        with database.sessions() as session:
            user = accounts_repo.get_user_by_phone(session, "+8613800138000")
            assert user is not None and user.is_platform_admin
            assert user.password_hash is not None
            assert credentials.verify_password(user.password_hash, "admin-password")
    finally:
        database.dispose()


def test_acl_is_an_admit_server_subcommand() -> None:
    from click.testing import CliRunner

    from server.cli import server

    result = CliRunner().invoke(server, ["acl", "--help"])
    assert result.exit_code == 0
    assert "ACL" in result.output
