"""The ``admit`` command line: one entry point, one group per component.

Subcommands are imported lazily so that a kiosk without the server's
dependencies (or a server without OpenCV) can still run its own commands.
"""

from __future__ import annotations

import importlib

import click

#: command name -> (module, attribute, one-line help shown before import)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "decode": (
        "hardware.cli",
        "decode",
        "Decode QR codes in image files with the kiosk's pipeline.",
    ),
    "kiosk": ("kiosk.cli", "kiosk", "Run, enroll and inspect a gate kiosk."),
    "server": ("server.cli", "server", "Run the Admit server (API, MQTT bridge, dashboard)."),
    "demo": ("server.demo.cli", "demo", "Run broker, server and simulated kiosks on this machine."),
    "keys": ("protocol.cli", "keys", "Generate and inspect ticket signing keys."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = LAZY_COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, short_help = entry
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            return _missing_dependency_command(cmd_name, short_help, exc)
        command = getattr(module, attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _missing_dependency_command(name: str, short_help: str, exc: ImportError) -> click.Command:
    extra = "server" if name in {"server", "demo"} else "kiosk"

    @click.command(name=name, help=short_help, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def missing(args: tuple[str, ...]) -> None:
        raise click.ClickException(
            f"'admit {name}' needs packages that are not installed ({exc.name or exc}).\n"
            f"Install them with: pip install 'admit[{extra}]'"
        )

    missing.missing_dependency = exc  # type: ignore[attr-defined]
    return missing


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="admit")
def main() -> None:
    """Admit: ticketed gates that decide offline and never lose a scan.

    \b
    Quick tour:
      admit demo --kiosks 3 --duration 30   broker, server and 3 simulated gates
      admit decode photo.jpg                 read QR codes the way a kiosk does
      admit kiosk run --config kiosk.toml    run a gate
      admit server                           run the API, MQTT bridge and dashboard
    """


if __name__ == "__main__":
    main()
