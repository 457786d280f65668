"""The demo's gates: real kiosk programs on simulated hardware (``kiosk.simulate``), each
enrolled over HTTP with its one-time token, and a driver that plays a visitor queue at it.

The driver shows one ticket at a time: it holds the phone up to the synthetic camera (or types
the code), waits for the kiosk's decision, then for the visitor to walk through before the next
one steps up, as at a real turnstile. A ticket the camera did not read is shown again, at most
:data:`SHOW_ATTEMPTS` times. A ``used again`` ticket waits until the kiosk's debounce window has
passed since it was first scanned (inside that window the kiosk treats it as the same scan).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from kiosk.app import ScanOutcome
from kiosk.config import KioskConfig
from kiosk.debounce import DEFAULT_WINDOW_MS
from kiosk.enroll import enroll
from kiosk.simulate import SimulatedKiosk
from kiosk.store import KioskStore
from server.demo.plan import Kind, PlannedScan, originals

log = logging.getLogger(__name__)

SHOW_ATTEMPTS = 3
#: how long one showing may take to produce a decision (decoding two synthetic frames)
DECISION_WAIT = 3.0
#: how long a visitor may take to walk through before the next one steps up anyway
PASSAGE_WAIT = 10.0
CONFIG_NAME = "kiosk.toml"


def write_kiosk_config(
    directory: Path,
    *,
    server_url: str,
    language: str,
    mqtt_root: str = "admit",
    resend_after: float = 5.0,
    status_interval: float = 1.0,
) -> Path:
    """The TOML a fresh simulated kiosk starts from; enrollment fills in the rest."""
    directory.mkdir(parents=True, exist_ok=True)
    document = tomlkit.document()
    document["site"] = {"language": language}
    document["mqtt"] = {"root": mqtt_root}
    document["store"] = {"path": "kiosk.db"}
    document["outbox"] = {"resend_after": resend_after, "status_interval": status_interval}
    document["server"] = {"url": server_url}
    document["camera"] = {"source": "synthetic", "decoder": "auto"}
    path = directory / CONFIG_NAME
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path


def enroll_kiosk(
    server_url: str,
    token: str,
    directory: Path,
    *,
    language: str,
    mqtt_root: str = "admit",
    resend_after: float = 5.0,
) -> KioskConfig:
    """Write a starting TOML in ``directory`` and enroll through ``POST /api/v1/fleet/enroll``."""
    path = write_kiosk_config(
        directory,
        server_url=server_url,
        language=language,
        mqtt_root=mqtt_root,
        resend_after=resend_after,
    )
    return enroll(server_url, token, path)


@dataclass(frozen=True)
class ScanResult:
    """One planned scan and what the kiosk made of it (``outcome`` None: never read)."""

    gate: str
    planned: PlannedScan
    outcome: ScanOutcome | None

    @property
    def reason(self) -> str | None:
        return None if self.outcome is None else self.outcome.decision.reason


@dataclass
class DriverLog:
    """What a driver did; appended by its thread, read after it stopped."""

    results: list[ScanResult] = field(default_factory=list)
    #: ``used again`` scans left out because the first showing was never read or admitted
    skipped: int = 0


class DemoKiosk:
    """One simulated kiosk plus the driver thread that walks its plan."""

    def __init__(self, config: KioskConfig, *, seed: int = 0, network: bool = True) -> None:
        self.config = config
        self.gate = config.site.gate
        self._outcomes: queue.SimpleQueue[ScanOutcome] = queue.SimpleQueue()
        self.simulated = SimulatedKiosk(
            config, walk_probability=1.0, seed=seed, network=network, on_scan=self._outcomes.put
        )
        self.log = DriverLog()
        self._stop = threading.Event()
        self._driver: threading.Thread | None = None
        self._stopped = False
        self.plan_done = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.simulated.start()

    def wait_connected(self, timeout: float) -> bool:
        worker = self.simulated.kiosk.worker
        return worker is not None and worker.link.wait_connected(timeout)

    def revocations_count(self) -> int:
        return self.simulated.kiosk.scan_store.list_version("revocations").count

    def outbox_depth(self) -> int:
        """Scans waiting for the server's ack (read from the store file, also after a stop)."""
        with KioskStore(self.config.store_path) as store:
            return store.outbox_depth()

    def drive(self, plan: list[PlannedScan]) -> None:
        self._driver = threading.Thread(
            target=self._walk, args=(plan,), name=f"demo-driver-{self.gate}", daemon=True
        )
        self._driver.start()

    def stop_driving(self) -> None:
        self._stop.set()
        if self._driver is not None:
            self._driver.join(DECISION_WAIT * SHOW_ATTEMPTS + PASSAGE_WAIT)

    def stop(self) -> None:
        """Stop the kiosk program: gate closed, ``offline`` status published, store closed."""
        self.stop_driving()
        if not self._stopped:
            self._stopped = True
            self.simulated.stop()

    # --- the visitor queue -----------------------------------------------------------------

    def _walk(self, plan: list[PlannedScan]) -> None:
        first_of = originals(plan)
        done: dict[int, ScanResult] = {}
        scanned_at: dict[int, float] = {}
        try:
            for index, planned in enumerate(plan):
                if self._stop.is_set():
                    return
                if planned.kind is Kind.USED_AGAIN:
                    original = done.get(first_of[index])
                    if original is None or original.reason != "admitted":
                        self.log.skipped += 1
                        continue
                    ready = scanned_at[first_of[index]] + DEFAULT_WINDOW_MS / 1000 + 0.5
                    if self._stop.wait(max(0.0, ready - time.monotonic())):
                        return
                result = self.present(planned)
                done[index] = result
                scanned_at[index] = time.monotonic()
                self.log.results.append(result)
        except Exception:
            log.exception("demo driver for %s failed", self.gate)
        finally:
            self.plan_done.set()

    def present(self, planned: PlannedScan) -> ScanResult:
        """Show (or type) one ticket until the kiosk decides, then let the visitor through."""
        for _ in range(SHOW_ATTEMPTS):
            if planned.typed:
                self.simulated.type_code(planned.text)
            else:
                self.simulated.show(planned.text)
            outcome = self._decision_for(planned.text)
            if outcome is not None:
                self._wait_for_passage()
                return ScanResult(self.gate, planned, outcome)
        return ScanResult(self.gate, planned, None)

    def _decision_for(self, text: str) -> ScanOutcome | None:
        deadline = time.monotonic() + DECISION_WAIT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                outcome = self._outcomes.get(timeout=remaining)
            except queue.Empty:
                return None
            if outcome.text == text:
                return outcome
        return None

    def _wait_for_passage(self) -> None:
        """Until the admitted visitor has walked through (also when asked to stop: a visitor
        half-way through the turnstile finishes, so no admission is annulled by the stop)."""
        deadline = time.monotonic() + PASSAGE_WAIT
        gate = self.simulated.kiosk.gate
        while gate.pending_token is not None and time.monotonic() < deadline:
            time.sleep(0.05)
