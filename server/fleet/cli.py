"""``admit server acl``: write Mosquitto's ACL (and password file) from the gate registry.

Registered on the ``admit server`` group by :mod:`server.cli` (``server.add_command(acl)``).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("acl")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="ACL file to write."
)
@click.option(
    "--passwords",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write Mosquitto's password file here.",
)
@click.option("--database-url", default=None, help="Overrides ADMIT_DATABASE_URL.")
@click.option(
    "--reload-command",
    default=None,
    help="Run this after writing, e.g. 'systemctl reload mosquitto'.",
)
def acl(
    out: Path, passwords: Path | None, database_url: str | None, reload_command: str | None
) -> None:
    """Write the broker ACL for every enrolled gate: each kiosk may publish only under its own
    gate topics; only the server user publishes commands, acks and lists."""
    from server.db import Database
    from server.features import import_all_models
    from server.fleet.broker_files import write_broker_files
    from server.fleet.service import broker_acl, broker_password_file
    from server.fleet.settings import get_fleet_settings
    from server.settings import get_settings

    import_all_models()
    settings = get_settings()
    fleet_settings = get_fleet_settings()
    database = Database.connect(database_url or settings.database_url)
    try:
        with database.sessions.begin() as session:
            acl_text = broker_acl(session, fleet_settings)
            password_text = broker_password_file(session, fleet_settings) if passwords else ""
    finally:
        database.dispose()
    write_broker_files(
        password_file=passwords,
        password_text=password_text,
        acl_file=out,
        acl_text=acl_text,
        reload_command=reload_command,
    )
    click.echo(f"wrote {out}" + (f" and {passwords}" if passwords else ""))
