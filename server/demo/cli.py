"""``admit demo``: the whole system on this machine, with nothing configured or installed."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from server.demo.report import render
from server.demo.run import LOG_NAME, Access, Demo, DemoError, DemoOptions

#: Exit code when kiosk scans never reached the server.
EXIT_EVENTS_LOST = 1


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--kiosks",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Simulated gates to run.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Scan for this long, then drain, print the summary and exit. Default: until Ctrl-C.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="HTTP port of the server (0: any free port).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Folder for the database, kiosk stores and log; wiped at start.",
)
@click.option(
    "--language",
    type=click.Choice(["zh-CN", "en"]),
    default="zh-CN",
    show_default=True,
    help="Language of the server's texts and the kiosk screens.",
)
@click.option(
    "--seed",
    type=int,
    default=2024,
    show_default=True,
    help="Random seed of the ticket mix (the same seed gives the same queues).",
)
def demo(
    kiosks: int,
    duration: float | None,
    port: int,
    data_dir: Path,
    language: str,
    seed: int,
) -> None:
    """Run a broker, the server and simulated gates on this machine.

    \b
    Starts an embedded MQTT broker, the server on a SQLite file with its MQTT
    bridge, seeds a merchant, an event and a few hundred paid tickets (some
    already checked in at the counter, some refunded), enrolls N kiosks over
    HTTP with one-time tokens and lets visitor queues scan a mix of valid,
    used, refunded, wrong-zone and forged tickets at them. Open the printed
    dashboard link to watch the gates live.

    \b
    With --duration the demo stops by itself: the kiosks deliver what is left
    in their outboxes, and a summary compares what the gates decided with what
    the server stored. Exit code 1 means kiosk scans never reached the server.

    \b
    Examples:
      admit demo
      admit demo --kiosks 2 --duration 20 --language en
    """
    console = Console()
    data_dir = data_dir.resolve()
    options = DemoOptions(kiosks=kiosks, port=port, data_dir=data_dir, language=language, seed=seed)
    _log_to_file(data_dir / LOG_NAME)
    # Ctrl-C and SIGTERM both end the scanning: drain, summary, clean exit (a shell that starts
    # the demo in the background makes it ignore SIGINT, hence the explicit handlers)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with Demo(options, progress=lambda text: _step(console, text)) as running:
            with console.status("starting…"):
                access = running.start()
            try:
                _print_access(console, access)
                running.drive()
                _run(console, running, duration)
            except KeyboardInterrupt:
                console.log("stopping…")
            with console.status("draining…"):
                summary = running.finish()
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    render(summary, console)
    if summary.events_lost:
        sys.exit(EXIT_EVENTS_LOST)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _step(console: Console, text: str) -> None:
    console.log(text)


def _log_to_file(path: Path) -> None:
    """Every component logs to the demo's file, none to the terminal. The file is opened at the
    first record, after the demo has emptied its folder."""
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for chatty in ("amqtt", "transitions"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _print_access(console: Console, access: Access) -> None:
    rows = (
        ("Dashboard", access.dashboard_url),
        ("API docs", f"{access.base_url}/docs"),
        ("Platform admin", f"{access.admin_phone} / {access.admin_password}"),
        ("Merchant owner", f"{access.owner_phone} / {access.owner_password}"),
        ("MQTT broker", access.broker_url),
        ("Log", str(access.log_file)),
    )
    console.rule("[bold]Admit demo is running")
    for label, value in rows:
        # soft_wrap: a long link stays on one line, so it can be copied or clicked whole
        console.print(f"[bold]{label:<15}[/bold] {value}", soft_wrap=True, highlight=False)
    console.rule()


def _run(console: Console, running: Demo, duration: float | None) -> None:
    """Let the queues scan for ``duration`` seconds (or until interrupted), showing live counts."""
    deadline = None if duration is None else time.monotonic() + duration
    hint = "" if duration is not None else "  (Ctrl-C to stop)"
    with console.status("scanning…") as status:
        while deadline is None or time.monotonic() < deadline:
            counts = running.live_counts()
            text = "  ".join(
                f"{gate}: {scans} scans, outbox {depth}" for gate, (scans, depth) in counts.items()
            )
            if running.plans_done():
                text += "  (every ticket shown)"
            status.update(text + hint)
            time.sleep(1.0)
