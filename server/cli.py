"""``admit server``: run the API (and, through the feature packages, the MQTT bridge and the
dashboard); ``migrate``, ``make-migration``, ``create-admin`` and ``acl`` for operators."""

from __future__ import annotations

import os

import click

from server.settings import Settings, get_settings

#: Requests in flight per worker process; beyond it uvicorn answers 503 at once instead of
#: queueing without bound. Requests wait for their database turn on the event loop (see
#: server.db), so this bounds memory and queueing delay, not correctness.
DEFAULT_LIMIT_CONCURRENCY = 200


def _settings_with(database_url: str | None) -> Settings:
    settings = get_settings()
    if database_url:
        return settings.model_copy(update={"database_url": database_url})
    return settings


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default=None, help="Address to listen on [ADMIT_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [ADMIT_PORT, 8000].")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--limit-concurrency",
    type=int,
    default=DEFAULT_LIMIT_CONCURRENCY,
    show_default=True,
    help="Requests in flight per worker; beyond it 503 (0: no limit).",
)
@click.option(
    "--migrate/--no-migrate",
    default=None,
    help="Upgrade the database schema at start-up (default: ADMIT_DATABASE_SCHEMA, 'migrate').",
)
@click.option("--database-url", default=None, help="Overrides ADMIT_DATABASE_URL.")
@click.pass_context
def server(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    reload: bool,
    workers: int,
    limit_concurrency: int,
    migrate: bool | None,
    database_url: str | None,
) -> None:
    """Run the Admit server: REST API, OpenAPI at /openapi.json, health at /healthz.

    Settings come from ADMIT_* environment variables (see docs/server.md), e.g.
    ADMIT_DATABASE_URL=postgresql://user@host/admit. Without a subcommand the server runs.

    \b
    Examples:
      admit server --port 8080
      admit server create-admin --phone 13800138000
      admit server migrate
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from server.logs import configure_logging

    settings = get_settings()
    # uvicorn builds the app in each worker from the environment, so overrides go through it.
    if database_url:
        os.environ["ADMIT_DATABASE_URL"] = database_url
    if migrate is not None:
        os.environ["ADMIT_DATABASE_SCHEMA"] = "migrate" if migrate else "none"
    configure_logging(settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        "server.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        workers=None if reload else workers,
        log_config=None,
        # server.app's middleware writes the access line (with the request id and duration);
        # uvicorn's own would be a second line for every request.
        access_log=False,
        proxy_headers=True,
        limit_concurrency=limit_concurrency or None,
    )


@server.command()
@click.option("--database-url", default=None, help="Overrides ADMIT_DATABASE_URL.")
def migrate(database_url: str | None) -> None:
    """Upgrade the database schema to the newest revision."""
    from server.migrate import upgrade

    settings = _settings_with(database_url)
    upgrade(settings.database_url)
    click.echo("schema is up to date")


@server.command("make-migration")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--database-url", default=None, help="A database already at head to compare with.")
def make_migration(message: str, database_url: str | None) -> None:
    """Autogenerate a migration from the models (for developers; read it before committing)."""
    from server.migrate import make_migration as autogenerate
    from server.migrate import upgrade

    settings = _settings_with(database_url)
    upgrade(settings.database_url)
    autogenerate(settings.database_url, message)


@server.command("create-admin")
@click.option("--phone", required=True, help="The admin's phone number (E.164 or a CN number).")
@click.password_option(help="The admin's password (asked when omitted).")
@click.option("--database-url", default=None, help="Overrides ADMIT_DATABASE_URL.")
def create_admin(phone: str, password: str, database_url: str | None) -> None:
    """Create a platform admin, or make an existing user one and set their password."""
    from server.accounts.service import ensure_platform_admin
    from server.app import prepare_schema
    from server.clock import utc_now
    from server.db import Database

    settings = _settings_with(database_url)
    database = Database.connect(settings.database_url)
    try:
        prepare_schema(settings, database)
        with database.sessions.begin() as session:
            user = ensure_platform_admin(session, phone=phone, password=password, now=utc_now())
            click.echo(f"platform admin {user.phone} (user {user.id}) is ready")
    finally:
        database.dispose()


def _register_feature_commands() -> None:
    """Operator commands that live with their feature package."""
    from server.fleet.cli import acl

    server.add_command(acl)


_register_feature_commands()
