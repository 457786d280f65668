"""The demo on one machine: an embedded broker, the server on SQLite with its MQTT bridge, the
seed, N enrolled simulated kiosks and their visitor queues; then the drain and the summary.

:class:`Demo` is a context manager; the CLI (:mod:`server.demo.cli`) and the tests drive it::

    with Demo(options, progress=print) as demo:
        demo.start()
        demo.run_for(15)          # or demo.run_until_interrupted()
        summary = demo.finish()   # drain, stop kiosks, count what the server stored
"""

from __future__ import annotations

import logging
import random
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from protocol.signing import Keyring
from server.app import create_app
from server.clock import utc_now
from server.db import Database
from server.demo import repository
from server.demo.broker import EmbeddedBroker
from server.demo.forgeries import one_character_changed, signed_by_stranger, untrusted_key_id
from server.demo.http_server import InProcessServer, port_is_free
from server.demo.kiosks import DemoKiosk, enroll_kiosk
from server.demo.plan import Pass, ScanPools, build_plans
from server.demo.report import DemoSummary, summarize
from server.demo.seed import DemoSeed, DemoSeeder, SeedSizes
from server.fleet.settings import FleetSettings
from server.settings import Settings

log = logging.getLogger(__name__)

#: A file that marks a folder as the demo's own, so that it may be wiped at start.
MARKER = ".admit-demo"
LOG_NAME = "demo.log"
FORGERIES_PER_KIND = 15
#: seconds a kiosk may take to connect and be seen online by the server
CONNECT_WAIT = 20.0


class DemoError(RuntimeError):
    """The demo cannot start (or run) as asked."""


@dataclass(frozen=True)
class DemoOptions:
    kiosks: int = 3
    port: int = 0
    data_dir: Path = Path("var/demo")
    language: str = "zh-CN"
    #: seeds the ticket mix and the forgeries: the same number gives the same queue
    seed: int = 2024
    sizes: SeedSizes = field(default_factory=SeedSizes)
    #: after the gates stop scanning, how long kiosks may take to deliver the rest
    drain_grace: float = 30.0
    #: how long live refunds may take to reach every kiosk before scanning starts
    revocation_wait: float = 30.0


@dataclass(frozen=True)
class Access:
    """What the demo prints so a person can look around at once."""

    base_url: str
    dashboard_url: str
    broker_url: str
    admin_phone: str
    admin_password: str
    owner_phone: str
    owner_password: str
    log_file: Path


def prepare_data_dir(path: Path) -> Path:
    """Empty ``path`` for a fresh run; refuse a non-empty folder the demo did not make."""
    if path.exists():
        if not path.is_dir():
            raise DemoError(f"{path} exists and is not a folder")
        if any(path.iterdir()) and not (path / MARKER).exists():
            raise DemoError(
                f"{path} is not empty and was not made by 'admit demo'; "
                "choose another --data-dir or empty it yourself"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by 'admit demo'; wiped at its next start\n")
    return path


def scan_pools(seed: DemoSeed, rng: random.Random) -> ScanPools:
    """The texts the visitor queues show, forgeries made against the gates' keyring."""
    keyring = Keyring.from_dict({str(key): text for key, text in seed.trusted_keys.items()})
    genuine = [ticket.credential for ticket in seed.valid]
    bases = rng.sample(genuine, min(len(genuine), FORGERIES_PER_KIND))
    stranger_id = untrusted_key_id(keyring)
    genuine_id = max(seed.trusted_keys)
    return ScanPools(
        valid=[Pass(ticket.credential, ticket.code) for ticket in seed.valid],
        checked_at_counter=[ticket.credential for ticket in seed.checked_in_at_counter],
        refunded=[ticket.credential for ticket in seed.refunded + seed.to_refund_live],
        vip=[ticket.credential for ticket in seed.vip],
        unknown_key=[signed_by_stranger(text, stranger_id) for text in bases],
        wrong_key=[signed_by_stranger(text, genuine_id) for text in bases],
        one_character=[one_character_changed(text, keyring, rng) for text in bases],
    )


class Demo:
    """Owns every part the demo starts and stops them in reverse order."""

    def __init__(self, options: DemoOptions, *, progress: Callable[[str], None]) -> None:
        if options.kiosks < 1:
            raise DemoError("--kiosks must be at least 1")
        self.options = options
        self.progress = progress
        self.rng = random.Random(options.seed)
        self.data_dir = options.data_dir.resolve()
        self.broker: EmbeddedBroker | None = None
        self.server: InProcessServer | None = None
        self.database: Database | None = None
        self.seeder: DemoSeeder | None = None
        self.seed: DemoSeed | None = None
        self.kiosks: list[DemoKiosk] = []
        self.access: Access | None = None

    # --- starting ----------------------------------------------------------------------------

    def start(self) -> Access:
        options = self.options
        if options.port and not port_is_free("127.0.0.1", options.port):
            raise DemoError(f"port {options.port} is in use; pass --port 0 for any free port")
        prepare_data_dir(self.data_dir)
        self.progress("starting the embedded MQTT broker")
        self.broker = EmbeddedBroker().start()
        self.progress(f"starting the server on SQLite ({self.data_dir / 'admit.sqlite3'})")
        settings = Settings(
            database_url=f"sqlite:///{self.data_dir / 'admit.sqlite3'}",
            database_schema="create",
            data_dir=self.data_dir,
            language=options.language,
            sms_sender="log",
            log_json=False,
        )
        fleet_settings = FleetSettings(
            mqtt_bridge=True,
            mqtt_url=self.broker.url,
            mqtt_protocol="3.1.1",
            mqtt_client_id="admit-demo-server",
        )
        app = create_app(settings)
        app.state.fleet_settings = fleet_settings
        self.server = InProcessServer(app, port=options.port).start()
        self.database = app.state.database
        assert self.database is not None
        self.seeder = DemoSeeder(
            self.database,
            settings,
            fleet_settings,
            now=utc_now,
            rng=self.rng,
            admin_password=_password(),
            owner_password=_password(),
            progress=self.progress,
        )
        self.seed = seed = self.seeder.seed(options.sizes, options.kiosks)
        self.progress(f"enrolling {options.kiosks} kiosks over HTTP with one-time tokens")
        base_url = self.server.base_url
        for number, gate in enumerate(seed.gates):
            config = enroll_kiosk(
                base_url,
                gate.token,
                self.data_dir / "kiosks" / gate.key,
                language=options.language,
            )
            self.kiosks.append(DemoKiosk(config, seed=options.seed + number))
        self.progress("starting the simulated kiosks")
        for kiosk in self.kiosks:
            kiosk.start()
        for kiosk in self.kiosks:
            if not kiosk.wait_connected(CONNECT_WAIT):
                raise DemoError(f"kiosk {kiosk.gate} could not connect to {self.broker.url}")
        self._wait_for_online(seed)
        self._refund_live(seed)
        self.access = Access(
            base_url=base_url,
            dashboard_url=f"{base_url}/dashboard?token={seed.operator_token}",
            broker_url=self.broker.url,
            admin_phone=seed.admin_phone,
            admin_password=seed.admin_password,
            owner_phone=seed.owner_phone,
            owner_password=seed.owner_password,
            log_file=self.data_dir / LOG_NAME,
        )
        return self.access

    def _wait_for_online(self, seed: DemoSeed) -> None:
        """Until the server has every gate's ``online`` status. A kiosk subscribes before it
        publishes its status, so from then on it hears list deltas: one published before its
        subscription would be missed (the kiosk then waits for the server to catch it up)."""
        assert self.database is not None
        gate_ids = [gate.gate_id for gate in seed.gates]
        deadline = time.monotonic() + CONNECT_WAIT
        while True:
            with self.database.sessions() as session:
                states = repository.gate_states(session, gate_ids)
            if all(state == "online" for state in states.values()):
                return
            if time.monotonic() > deadline:
                raise DemoError(f"the server did not hear every gate come online: {states}")
            time.sleep(0.1)

    def _refund_live(self, seed: DemoSeed) -> None:
        """Refund a few tickets now, and wait until the revocations reach every kiosk."""
        assert self.seeder is not None
        self.progress(f"refunding {len(seed.to_refund_live)} tickets while the gates listen")
        self.seeder.refund(seed, seed.to_refund_live)
        revoked = len(seed.refunded) + len(seed.to_refund_live)
        deadline = time.monotonic() + self.options.revocation_wait
        while any(kiosk.revocations_count() < revoked for kiosk in self.kiosks):
            if time.monotonic() > deadline:
                raise DemoError("the revocations did not reach every kiosk in time")
            time.sleep(0.1)

    # --- running -----------------------------------------------------------------------------

    def drive(self) -> None:
        """Start every kiosk's visitor queue."""
        assert self.seed is not None
        plans = build_plans(scan_pools(self.seed, self.rng), len(self.kiosks), self.rng)
        for kiosk, plan in zip(self.kiosks, plans, strict=True):
            kiosk.drive(plan)

    def plans_done(self) -> bool:
        return all(kiosk.plan_done.is_set() for kiosk in self.kiosks)

    def live_counts(self) -> dict[str, tuple[int, int]]:
        """Gate -> (scans decided so far, outbox depth)."""
        return {
            kiosk.gate: (
                sum(1 for r in kiosk.log.results if r.outcome is not None),
                kiosk.outbox_depth(),
            )
            for kiosk in self.kiosks
        }

    # --- finishing ---------------------------------------------------------------------------

    def finish(self) -> DemoSummary:
        """Stop the queues, let the kiosks deliver (up to the grace period), stop them, count."""
        for kiosk in self.kiosks:
            kiosk.stop_driving()
        self.progress("waiting for every kiosk outbox to drain")
        deadline = time.monotonic() + self.options.drain_grace
        while not self._delivered() and time.monotonic() < deadline:
            time.sleep(0.25)
        self.progress("stopping the kiosks (they publish 'offline')")
        for kiosk in self.kiosks:
            kiosk.stop()
        # read after the stop: anything queued while shutting down counts as undelivered
        return self._summary({kiosk.gate: kiosk.outbox_depth() for kiosk in self.kiosks})

    def _delivered(self) -> bool:
        """Every kiosk outbox empty, every scan stored, and the check-in log caught up."""
        if any(kiosk.outbox_depth() for kiosk in self.kiosks):
            return False
        assert self.database is not None and self.seed is not None
        with self.database.sessions() as session:
            gate_ids = [gate.gate_id for gate in self.seed.gates]
            if repository.checkins_pending(session, gate_ids):
                return False
        summary = self._summary({})
        return not summary.lost

    def _summary(self, depths: dict[str, int]) -> DemoSummary:
        assert self.database is not None and self.seed is not None
        results = [result for kiosk in self.kiosks for result in kiosk.log.results]
        with self.database.sessions() as session:
            stored = repository.stored_scans(session, [gate.gate_id for gate in self.seed.gates])
            checkins = repository.gate_checkins(session, self.seed.merchant_id)
        return summarize(results, stored, checkins, depths)

    def close(self) -> None:
        """Stop whatever is still running: kiosks, then the server (and its bridge), the broker."""
        for kiosk in self.kiosks:
            try:
                kiosk.stop()
            except Exception:
                log.exception("stopping kiosk %s failed", kiosk.gate)
        self.kiosks.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(9)
