"""``admit kiosk``: run, enroll and inspect a gate kiosk.

- ``admit kiosk run --config kiosk.toml [--simulate]``: the gate program (``--simulate``:
  synthetic camera fed with one ticket text per line of standard input, MockFactory pins, a
  fake visitor walking through);
- ``admit kiosk enroll SERVER_URL TOKEN [--config PATH]``: exchange an enrollment token for
  credentials, keys and lists;
- ``admit kiosk status [--config PATH] [--json]``: what the kiosk knows (lists, outbox, last
  admissions, trusted keys), read from its store.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from kiosk.config import DEFAULT_CONFIG_PATH, KioskConfig, KioskConfigError, load_config
from kiosk.store import KioskStore

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CONFIG_PATH,
    envvar="ADMIT_KIOSK_CONFIG",
    show_default=True,
    help="The kiosk's TOML file (env ADMIT_KIOSK_CONFIG).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def kiosk() -> None:
    """Run, enroll and inspect a gate kiosk."""


@kiosk.command()
@config_option
@click.option(
    "--simulate",
    is_flag=True,
    help="Simulated hardware: ticket texts from stdin shown to a synthetic camera, mock GPIO.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def run(config_path: Path, simulate: bool, log_level: str) -> None:
    """Run the gate: scan, decide, open, report. Stops on SIGTERM or Ctrl-C."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = _load(config_path)
    if simulate:
        from kiosk.simulate import SimulatedKiosk, feed_lines

        simulated = SimulatedKiosk(config)
        if simulated.camera is not None:
            feed_lines(sys.stdin, simulated.show)
        simulated.run_forever()
        return
    from kiosk.app import Kiosk, open_hardware

    Kiosk(config, open_hardware(config)).run(install_signal_handlers=True)


@kiosk.command()
@click.argument("server_url")
@click.argument("token")
@config_option
def enroll(server_url: str, token: str, config_path: Path) -> None:
    """Enroll this kiosk with the server at SERVER_URL using a one-time TOKEN."""
    from kiosk.enroll import EnrollmentError
    from kiosk.enroll import enroll as do_enroll

    try:
        config = do_enroll(server_url, token, config_path)
    except (EnrollmentError, KioskConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    with KioskStore(config.store_path) as store:
        versions = {name: store.list_version(name).version for name in ("allowlist", "revocations")}
        keys = sorted(store.trusted_keys().to_dict())
    click.echo(
        f"enrolled as {config.site.id}/{config.site.gate} on {config.mqtt.url} "
        f"(client id {config.mqtt.client_id}); trusted keys {', '.join(keys) or 'none'}; "
        f"allowlist v{versions['allowlist']}, revocations v{versions['revocations']}; "
        f"configuration written to {config_path}"
    )


@kiosk.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--last", default=10, show_default=True, help="How many recent admissions to list.")
def status(config_path: Path, as_json: bool, last: int) -> None:
    """Show what the kiosk knows: list versions, outbox, staff check-ins held, last admissions,
    trusted keys."""
    config = _load(config_path)
    if not config.store_path.exists():
        raise click.ClickException(f"no kiosk store at {config.store_path}: enroll first")
    report = collect_status(config, last)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    _print_status(report)


def collect_status(config: KioskConfig, last: int = 10) -> dict[str, Any]:
    """The ``status`` report as JSON-able data."""
    with KioskStore(config.store_path) as store:
        lists = {}
        for name in ("allowlist", "revocations"):
            version = store.list_version(name)
            lists[name] = {
                "version": version.version,
                "digest": version.digest,
                "count": version.count,
            }
        oldest = store.outbox_oldest_ms()
        keyring = store.trusted_keys().to_dict()
        return {
            "site": config.site.id,
            "gate": config.site.gate,
            "mode": store.view().mode(),
            "lists": lists,
            "outbox": {"depth": store.outbox_depth(), "oldest_ms": oldest},
            "staff_seq": store.staff_seq(),
            "trusted_keys": sorted(key for key, value in keyring.items() if value is not None),
            "retired_keys": sorted(key for key, value in keyring.items() if value is None),
            "last_admissions": [
                {
                    "scan_id": entry.scan_id,
                    "ticket_key": entry.ticket_key,
                    "direction": entry.direction,
                    "at_ms": entry.at_ms,
                    "entry_no": entry.entry_no,
                    "annulled": entry.annulled,
                }
                for entry in store.recent_admissions(last)
            ],
        }


def _print_status(report: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]{report['site']}/{report['gate']}[/bold]  mode [bold]{report['mode']}[/bold]"
    )
    lists = Table("list", "version", "entries", "digest", title="Lists")
    for name, facts in report["lists"].items():
        lists.add_row(name, str(facts["version"]), str(facts["count"]), facts["digest"][:16] + "…")
    console.print(lists)
    outbox = report["outbox"]
    oldest = "-" if outbox["oldest_ms"] is None else _time(outbox["oldest_ms"])
    console.print(f"Outbox: {outbox['depth']} scans waiting for the server (oldest {oldest})")
    console.print(f"Staff check-ins held up to sequence {report['staff_seq']}")
    console.print(f"Trusted keys: {', '.join(report['trusted_keys']) or 'none'}")
    admissions = Table(
        "time (UTC)", "ticket", "direction", "entry", "scan id", "annulled", title="Last admissions"
    )
    for entry in report["last_admissions"]:
        admissions.add_row(
            _time(entry["at_ms"]),
            entry["ticket_key"],
            entry["direction"],
            str(entry["entry_no"] or "-"),
            entry["scan_id"] or "-",
            "yes" if entry["annulled"] else "",
        )
    console.print(admissions)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _load(config_path: Path) -> KioskConfig:
    try:
        return load_config(config_path)
    except KioskConfigError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    kiosk()
