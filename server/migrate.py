"""Alembic, configured in code: ``upgrade(url)`` brings a database to the newest schema.

The migration scripts live in ``server/migrations/versions``. After changing models, write a
revision with ``admit server make-migration -m "what changed"`` (autogenerate against an
up-to-date database) and read it before committing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from server.db import normalize_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a URL (encoded characters) must be doubled.
    config.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def make_migration(url: str, message: str) -> None:
    """Autogenerate a revision from the difference between the models and the database at
    ``url`` (upgrade it to head first)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
