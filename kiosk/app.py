"""The kiosk program: the scan loop wired to the gate, the store and the network worker.

Scan path (the scan loop's thread; nothing on it waits for the network)::

    frame source -> decoder  \\
                              -> debounce -> decide -> store.record_scan -> gate.admit / reject
    code reader (thread)     /                          (durable first)     -> wake the outbox

The decision is :func:`kiosk.decision.decide` over the scan loop's own store connection with the
clock passed in. ``record_scan`` commits the ledger row and the outbox row with
``synchronous=FULL`` before the relay is touched, so a crash after the gate opened never loses
the scan. When the gate reports that nobody walked through (or it could not open), the admission
is annulled in the ledger and a ``not_passed`` scan is queued in the same transaction.

Everything network-side (outbox drain, acks, commands, lists, gossip, status) runs on
:class:`kiosk.link.LinkWorker`'s thread with a second store connection. SIGTERM and SIGINT stop
the loop: the gate closes in its shutdown mode, then the worker publishes ``offline`` and
disconnects.
"""

from __future__ import annotations

import logging
import math
import queue
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from types import FrameType

from gpiozero import Factory

from hardware.decoders import Decoder, open_decoder
from hardware.frames import FrameSource, open_frame_source
from hardware.gate import Gate, GateMode, PassageOutcome, Scheduler, ThreadScheduler
from hardware.pins import make_pin_factory
from hardware.scanners import CodeReader, ReaderClosedError, open_code_reader
from kiosk.catchup import HttpCatchup, SnapshotClient
from kiosk.clock import FLOOR_SETTING, GateClock
from kiosk.commands import BUSY, GATE_LOCKED, CommandHandler, CommandRefused, StoreLists
from kiosk.config import KioskConfig
from kiosk.debounce import Debouncer
from kiosk.decision import Decision, decide
from kiosk.i18n import texts_for
from kiosk.link import LinkWorker, MqttLink
from kiosk.outbox import OutboxDrain, scan_payload
from kiosk.store import KioskStore
from kiosk.telemetry import HostProbe, TelemetryRecorder
from protocol import messages, reasons

log = logging.getLogger(__name__)

#: wire mode -> what the hardware does (maintenance keeps the turnstile shut like locked)
HARDWARE_MODES = {
    "normal": GateMode.NORMAL,
    "locked": GateMode.LOCKED,
    "maintenance": GateMode.LOCKED,
    "free": GateMode.FREE_PASSAGE,
}
#: pending admissions remembered for annulment, at most (the gate holds one at a time)
_MAX_PENDING = 64


def software_version() -> str:
    try:
        version = metadata.version("admit")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"admit-kiosk {version}"


#: how often, at most, the clock's lower bound is written to the store
FLOOR_SAVE_INTERVAL_S = 60.0


def saved_floor(store: KioskStore) -> int:
    """The clock's lower bound saved before the last restart (0: none, or unreadable)."""
    text = store.get_setting(FLOOR_SETTING) or "0"
    return int(text) if text.isdigit() else 0


def new_scan_id(gate: str) -> str:
    """A scan id unique across kiosk reinstalls (a store's ``seq`` restarts; this does not)."""
    return f"{gate[:30]}.{messages.new_id()}"


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What the scan loop did with one scanned text (for simulation and tests)."""

    text: str
    decision: Decision
    scan_id: str
    seq: int


@dataclass(slots=True)
class Hardware:
    """The devices a kiosk runs with; :func:`open_hardware` builds them from the config and
    ``kiosk.simulate`` builds simulated ones."""

    pin_factory: Factory
    scheduler: Scheduler
    frames: FrameSource | None
    decoder: Decoder | None
    reader: CodeReader | None
    #: called when the kiosk stops (close scheduler, camera, reader)
    closers: list[Callable[[], None]] = field(default_factory=list)


def open_hardware(config: KioskConfig) -> Hardware:
    """The real devices named in the config (camera, decoder, scanner, GPIO)."""
    scheduler = ThreadScheduler()
    hardware = Hardware(
        pin_factory=make_pin_factory(config.gate.pin_factory),
        scheduler=scheduler,
        frames=open_frame_source(config.camera.source) if config.camera.enabled else None,
        decoder=open_decoder(config.camera.decoder) if config.camera.enabled else None,
        reader=open_code_reader(config.scanner),
        closers=[scheduler.close],
    )
    if hardware.reader is not None:
        hardware.closers.append(hardware.reader.close)
    return hardware


class ModeControl:
    """The gate's mode: kept in the store (it survives restarts) and applied to the hardware.

    Commands change it from the network thread; the scan loop's decisions read it from the
    store. The hardware is switched first and switched back if the store write fails, so the
    two never disagree.
    """

    def __init__(self, gate: Gate, store: KioskStore, on_change: Callable[[], None]) -> None:
        self._gate = gate
        self._store = store
        self._on_change = on_change
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return self._store.view().mode()

    def restore(self) -> None:
        """Apply the stored mode to the hardware at start-up."""
        self._gate.set_mode(HARDWARE_MODES.get(self.mode, GateMode.NORMAL))

    def set_mode(self, mode: str) -> None:
        with self._lock:
            previous = self.mode
            self._gate.set_mode(HARDWARE_MODES[mode])
            try:
                self._store.set_mode(mode)
            except Exception:
                self._gate.set_mode(HARDWARE_MODES.get(previous, GateMode.NORMAL))
                raise
        log.info("gate mode %s -> %s", previous, mode)
        self._on_change()

    def open_once(self, direction: str, token: str) -> None:
        if self.mode in ("locked", "maintenance"):
            raise CommandRefused(GATE_LOCKED, {"mode": self.mode})
        if not self._gate.can_admit:
            raise CommandRefused(BUSY, {"pending": self._gate.pending_token})
        log.info("opening once (%s) for %s", direction, token)
        self._gate.admit(token)


class Kiosk:
    """One gate's program. ``run()`` blocks until :meth:`stop` (or a signal)."""

    def __init__(
        self,
        config: KioskConfig,
        hardware: Hardware,
        *,
        network: bool = True,
        clock: GateClock | None = None,
        on_scan: Callable[[ScanOutcome], None] | None = None,
        debouncer: Debouncer | None = None,
    ) -> None:
        self.config = config
        self.hardware = hardware
        self.scan_store = KioskStore(config.store_path)
        #: the gate's time: the system clock, never behind what the server's messages showed
        self.clock = clock or GateClock(floor_ms=saved_floor(self.scan_store))
        self._now_ms = self.clock.now_ms
        self._floor_saved_at = -math.inf
        self._on_scan = on_scan
        self._gate_id = config.site.gate
        self._stop = threading.Event()
        self._texts: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._pending: dict[str, Decision] = {}
        self._debouncer = debouncer if debouncer is not None else Debouncer()
        #: scans ignored because the previous visitor had not walked through yet
        self.busy_skipped = 0
        self._screen = texts_for(config.site.language)
        self.software = software_version()
        self.telemetry = TelemetryRecorder(
            started=time.monotonic(),
            interval_s=config.telemetry_interval,
            host=HostProbe(config.store_path),
            clock=self.clock,
        )
        self.gate = Gate(
            config.gate,
            hardware.pin_factory,
            hardware.scheduler,
            on_outcome=self._passage_outcome,
        )
        # commands switch modes from the network thread; the store serialises its users
        self.modes = ModeControl(self.gate, self.scan_store, self._wake_worker)
        self.worker: LinkWorker | None = None
        self._network_store: KioskStore | None = None
        #: the HTTP snapshot fallback, when the config names the server and our credentials
        self.http_catchup: HttpCatchup | None = None
        if network:
            self.http_catchup = self._build_http_catchup()
            self._network_store = KioskStore(config.store_path)
            self.worker = self._build_worker(self._network_store)

    def _build_http_catchup(self) -> HttpCatchup | None:
        config = self.config
        if not (config.server_url and config.mqtt.username and config.mqtt.password):
            return None
        client = SnapshotClient(config.server_url, config.mqtt.username, config.mqtt.password)
        return HttpCatchup(
            config.store_path, client, config.catchup_timeout, on_applied=self._wake_worker
        )

    def _build_worker(self, store: KioskStore) -> LinkWorker:
        config = self.config
        link = MqttLink(
            config.mqtt,
            config.site.id,
            self._gate_id,
            on_event=lambda event: worker.post(event),
            max_in_flight=config.outbox.window,
        )
        drain = OutboxDrain(
            store,
            link.publish,
            link.topics.scans(self._gate_id),
            window=config.outbox.window,
            resend_after=config.outbox.resend_after,
            wall_clock_ms=self._now_ms,
        )
        commands = CommandHandler(self._gate_id, self.modes, StoreLists(store), store, self._now_ms)
        worker = LinkWorker(
            link,
            store,
            drain,
            commands,
            _StoreStatus(store),
            software=self.software,
            status_interval=config.outbox.status_interval,
            telemetry=self.telemetry,
            telemetry_interval=config.telemetry_interval,
            on_lists_behind=self.http_catchup.behind if self.http_catchup else None,
            now_ms=self._now_ms,
            on_server_time=lambda ts: self._heard_server_time(store, ts),
        )
        return worker

    def _heard_server_time(self, store: KioskStore, ts_ms: int) -> None:
        """A server message's send time (the link thread): raise the clock's bound, and save it
        at most every :data:`FLOOR_SAVE_INTERVAL_S` so a restart without network keeps it."""
        if not self.clock.heard_server_time(ts_ms):
            return
        if time.monotonic() - self._floor_saved_at >= FLOOR_SAVE_INTERVAL_S:
            self._floor_saved_at = time.monotonic()
            store.set_setting(FLOOR_SETTING, str(self.clock.floor_ms()))

    def _wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    @property
    def link_up(self) -> bool:
        return self.worker is not None and self.worker.link.connected

    # --- running ---------------------------------------------------------------------------

    def run(self, install_signal_handlers: bool = False) -> None:
        """Run the scan loop until :meth:`stop`; then shut everything down in order."""
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        with ExitStack() as stack:
            stack.callback(self._shutdown)
            self.modes.restore()
            if self.http_catchup is not None:
                self.http_catchup.start()
            if self.worker is not None:
                self.worker.start()
            if self.hardware.reader is not None:
                threading.Thread(target=self._read_codes, name="kiosk-scanner", daemon=True).start()
            frames = self.hardware.frames
            if frames is not None:
                stack.enter_context(frames)
            log.info("kiosk %s/%s running (%s)", self.config.site.id, self._gate_id, self.software)
            while not self._stop.is_set():
                if frames is not None:
                    self._scan_frame(frames)
                    self._drain_texts(block=False)
                else:
                    self._drain_texts(block=True)

    def stop(self) -> None:
        self._stop.set()

    def show(self, text: str) -> None:
        """Hand a scanned text to the scan loop as if a scanner had read it."""
        self._texts.put(text)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        self.stop()

    def _shutdown(self) -> None:
        self.gate.close()
        if self.worker is not None:
            self.worker.stop()
        if self.http_catchup is not None:
            self.http_catchup.stop()
        for close in self.hardware.closers:
            try:
                close()
            except Exception:
                log.exception("closing %r failed", close)
        if self.clock.floor_ms() > saved_floor(self.scan_store):
            self.scan_store.set_setting(FLOOR_SETTING, str(self.clock.floor_ms()))
        self.scan_store.close()
        if self._network_store is not None:
            self._network_store.close()
        log.info("kiosk stopped")

    def _scan_frame(self, frames: FrameSource) -> None:
        try:
            frame = frames.read()
        except Exception:
            log.exception("camera read failed")
            self._stop.wait(0.5)
            return
        if frame is None:
            self._stop.wait(0.02)
            return
        if self.hardware.decoder is None:
            return
        started = time.perf_counter()
        try:
            codes = self.hardware.decoder.decode(frame.image)
        except Exception:
            log.exception("decoder failed on frame %s", frame.index)
            return
        self.telemetry.decoded((time.perf_counter() - started) * 1000)
        for code in codes:
            self.handle_text(code.text)

    def _drain_texts(self, *, block: bool) -> None:
        try:
            text = self._texts.get(timeout=0.2) if block else self._texts.get_nowait()
        except queue.Empty:
            return
        self.handle_text(text)
        while True:
            try:
                self.handle_text(self._texts.get_nowait())
            except queue.Empty:
                return

    def _read_codes(self) -> None:
        reader = self.hardware.reader
        assert reader is not None
        while not self._stop.is_set():
            try:
                line = reader.read(timeout=0.5)
            except ReaderClosedError:
                return
            except Exception:
                log.exception("scanner failed; retrying")
                self._stop.wait(1.0)
                continue
            if line is not None:
                self._texts.put(line.text)

    # --- one scan --------------------------------------------------------------------------

    def handle_text(self, text: str) -> ScanOutcome | None:
        """Debounce, decide, record durably, then drive the gate; never raises.

        While an admitted visitor has not yet walked through, further scans are ignored (as
        turnstiles do): the gate could not open for them, and a code still in view is read
        again once the gate is free.
        """
        if self.gate.pending_token is not None and self.gate.mode is GateMode.NORMAL:
            self.busy_skipped += 1
            return None
        now = self._now_ms()
        if not self._debouncer.accept(text, now):
            return None
        try:
            outcome = self._decide_and_record(text, now)
        except Exception:
            log.exception("scan could not be recorded; the gate stays shut")
            self.gate.reject("error")
            return None
        decision = outcome.decision
        self.telemetry.scan_decided(decision.admitted)
        screen = self._screen.for_reason(decision.reason)
        log.info(
            "scan %s: %s (%s) %s", outcome.scan_id, decision.reason, screen.title, decision.detail
        )
        if decision.admitted:
            if len(self._pending) >= _MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
            if self.gate.mode is not GateMode.FREE_PASSAGE:  # free passage: already open
                self._pending[outcome.scan_id] = decision
                self.gate.admit(outcome.scan_id)
            self._gossip(decision, now)
        else:
            self.gate.reject(decision.reason)
        self._wake_worker()
        if self._on_scan is not None:
            self._on_scan(outcome)
        return outcome

    def _decide_and_record(self, text: str, now: int) -> ScanOutcome:
        decision = decide(
            text, self.scan_store.view(), self.config.policy, now, link_up=self.link_up
        )
        scan_id = new_scan_id(self._gate_id)
        payload = scan_payload(
            scan_id=scan_id,
            gate=self._gate_id,
            scanned_at=now,
            offline=decision.offline,
            direction=decision.direction,
            decision="admitted" if decision.admitted else "rejected",
            reason=decision.reason,
            ticket_id=decision.ticket_id,
            event_id=decision.event_id,
            code_hash=decision.code_hash,
            entry_no=decision.entry_no,
        )
        seq = self.scan_store.record_scan(decision.record(scan_id, self._gate_id, now), payload)
        return ScanOutcome(text, decision, scan_id, seq)

    def _gossip(self, decision: Decision, at: int) -> None:
        if self.worker is None or decision.ticket_key is None:
            return
        admission = messages.Admission(
            gate=self._gate_id,
            ticket_key=decision.ticket_key,
            direction=decision.direction,
            at=at,
            entries_used=self.scan_store.entries_used_at(decision.ticket_key, self._gate_id),
            ts=self._now_ms(),
        )
        topic = self.worker.link.topics.admissions(self._gate_id)
        self.worker.publish_later(topic, messages.encode(admission))

    def _passage_outcome(self, token: str, outcome: PassageOutcome) -> None:
        """The gate's report on an admission (gate, sensor or timer thread)."""
        decision = self._pending.pop(token, None)
        if decision is None:
            log.info("gate opening %s ended: %s", token, outcome)
            return
        if outcome is PassageOutcome.PASSED:
            return
        try:
            self._annul(token, decision)
        except Exception:
            log.exception("could not annul %s", token)

    def _annul(self, scan_id: str, decision: Decision) -> None:
        now = self._now_ms()
        annul_id = new_scan_id(self._gate_id)
        payload = scan_payload(
            scan_id=annul_id,
            gate=self._gate_id,
            scanned_at=now,
            offline=not self.link_up,
            direction=decision.direction,
            decision="rejected",
            reason=reasons.NOT_PASSED,
            ticket_id=decision.ticket_id,
            event_id=decision.event_id,
            code_hash=decision.code_hash,
            entry_no=None,
            annuls=scan_id,
        )
        annulled = self.scan_store.annul_admission(scan_id, (annul_id, now, payload))
        log.info("admission %s annulled: nobody walked through", scan_id)
        if annulled is not None:
            self._gossip(decision, annulled.at_ms)
        self._wake_worker()


class _StoreStatus:
    """The fields of the gate's ``status`` read from the network thread's store."""

    def __init__(self, store: KioskStore) -> None:
        self._store = store

    def status_fields(self) -> dict[str, object]:
        return {
            "mode": self._store.view().mode(),
            "allowlist_version": self._store.list_version("allowlist").version,
            "revocations_version": self._store.list_version("revocations").version,
            "outbox_depth": self._store.outbox_depth(),
            "keyring": messages.keyring_digest(self._store.trusted_keys().to_dict()),
            "staff_seq": self._store.staff_seq(),
        }
