"""Migrations and models agree: upgrading an empty database to head yields the models' schema.

When this fails after a model change, regenerate the revision (see docs/server.md,
"Migrations").
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from server.db import Base, make_engine
from server.features import import_all_models
from server.migrate import upgrade


def test_upgrade_to_head_matches_the_models(empty_database_url: str) -> None:
    import_all_models()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], (
        "models and migrations differ; regenerate the initial revision as docs/server.md "
        f"('Migrations') says: {differences}"
    )


def test_upgrade_twice_is_a_no_op(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    upgrade(empty_database_url)
