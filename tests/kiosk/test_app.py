"""The scan loop: decide, record durably before the relay, drive the gate, annul when nobody
passes; the simulated camera end to end."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from kiosk.app import Kiosk, ScanOutcome, saved_floor
from kiosk.clock import GateClock
from kiosk.debounce import Debouncer
from kiosk.simulate import SimulatedKiosk
from kiosk.store import KioskStore
from protocol import reasons
from protocol.credential import TicketClaims
from protocol.signing import SigningKey, sign_ticket
from tests.kiosk.conftest import (
    EVENT_ID,
    FakeServer,
    make_ticket,
    running_kiosk,
    write_config,
)

UNREACHABLE = "mqtt://127.0.0.1:9"


class Outcomes:
    """Collects the scan loop's outcomes; ``next()`` waits for the following one."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[ScanOutcome] = queue.SimpleQueue()

    def __call__(self, outcome: ScanOutcome) -> None:
        self._queue.put(outcome)

    def next(self, timeout: float = 10.0) -> ScanOutcome:
        return self._queue.get(timeout=timeout)


def relay_pin(kiosk: Kiosk) -> object:
    return kiosk.hardware.pin_factory.pin(kiosk.config.gate.relay_pin)


def pass_sensor(kiosk: Kiosk) -> None:
    """A visitor turns the turnstile (the sensor is active low); returns once the gate has
    seen the passage."""
    sensor = kiosk.hardware.pin_factory.pin(kiosk.config.gate.sensor_pin)
    sensor.drive_low()
    sensor.drive_high()
    deadline = time.monotonic() + 5
    while kiosk.gate.pending_token is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kiosk.gate.pending_token is None


def test_the_scan_is_on_disk_before_the_relay_opens(
    signing_key: SigningKey, tmp_path: Path
) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    seen_on_disk: list[tuple[int, int]] = []
    outcomes = Outcomes()
    with running_kiosk(config, network=False, on_scan=outcomes) as kiosk:
        admit = kiosk.gate.admit

        def checking_admit(token: str) -> None:
            # another connection sees only what is committed
            with KioskStore(config.store_path) as other:
                seen_on_disk.append((other.outbox_depth(), len(other.admissions("t:501"))))
            admit(token)

        kiosk.gate.admit = checking_admit  # type: ignore[method-assign]
        kiosk.show(make_ticket(signing_key, 501))
        outcome = outcomes.next()
        assert outcome.decision.admitted
        assert relay_pin(kiosk).state  # type: ignore[attr-defined]
        pass_sensor(kiosk)
    assert seen_on_disk == [(1, 1)]


def test_admitted_then_already_used(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    outcomes = Outcomes()
    ticket = make_ticket(signing_key, 502, entries=1)
    with running_kiosk(
        config, network=False, on_scan=outcomes, debouncer=Debouncer(window_ms=0)
    ) as kiosk:
        kiosk.show(ticket)
        first = outcomes.next()
        assert (first.decision.reason, first.decision.entry_no, first.decision.offline) == (
            reasons.ADMITTED,
            1,
            True,
        )
        pass_sensor(kiosk)
        kiosk.show(ticket)
        second = outcomes.next()
        assert second.decision.reason == reasons.ALREADY_USED
        assert second.seq == first.seq + 1


def test_the_same_code_held_up_is_one_scan(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    outcomes = Outcomes()
    with running_kiosk(config, network=False, on_scan=outcomes) as kiosk:
        for _ in range(5):
            kiosk.show("garbage text")
        kiosk.show("other garbage")
        kiosk.show("garbage text")
        kiosk.show("last")
        # in order, with every repeat suppressed: nothing comes between these three
        assert [outcomes.next().text for _ in range(3)] == ["garbage text", "other garbage", "last"]


def test_nobody_passing_annuls_the_admission_and_reports_it(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id, passage_timeout=0.5)
    outcomes = Outcomes()
    with running_kiosk(config, on_scan=outcomes) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        kiosk.show(make_ticket(signing_key, 503))
        admitted = outcomes.next()
        assert fake_server.wait_for(lambda s: len(s.scans) == 2, 10)
        annul = fake_server.scans[fake_server.order[1]]
        assert (annul.reason, annul.decision, annul.annuls) == (
            reasons.NOT_PASSED,
            "rejected",
            admitted.scan_id,
        )
        assert annul.ticket_id == 503
        assert [e.annulled for e in kiosk.scan_store.admissions("t:503", True)] == [True]
        assert fake_server.wait_for(lambda s: len(s.admissions) == 2, 10)
        assert [a.entries_used for a in fake_server.admissions] == [1, 0]
        assert fake_server.wait_for(lambda s: kiosk.scan_store.outbox_depth() == 0, 10)


def test_a_locked_gate_rejects_and_never_opens(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    with KioskStore(config.store_path) as store:
        store.set_mode("locked")
    outcomes = Outcomes()
    with running_kiosk(config, network=False, on_scan=outcomes) as kiosk:
        kiosk.show(make_ticket(signing_key, 504))
        outcome = outcomes.next()
        assert outcome.decision.reason == reasons.GATE_LOCKED
        assert not relay_pin(kiosk).state  # type: ignore[attr-defined]
        assert kiosk.gate.mode.value == "locked"


def test_scans_while_offline_wait_in_the_outbox(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    outcomes = Outcomes()
    with running_kiosk(config, on_scan=outcomes) as kiosk:
        kiosk.show("not a ticket")
        assert outcomes.next().decision.offline
    with KioskStore(config.store_path) as store:
        assert store.outbox_depth() == 1


def test_simulated_camera_and_visitor_end_to_end(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    outcomes = Outcomes()
    with SimulatedKiosk(config, walk_probability=1.0, on_scan=outcomes) as simulated:
        simulated.show(make_ticket(signing_key, 505))
        outcome = outcomes.next(timeout=20)
        assert outcome.decision.admitted and outcome.decision.ticket_id == 505
        assert fake_server.wait_for(lambda s: len(s.scans) == 1, 10)
        assert fake_server.wait_for(lambda s: simulated.walker.walked == 1, 10)
    with KioskStore(config.store_path) as store:
        assert [e.annulled for e in store.admissions("t:505", True)] == [False]


def _days_behind(days: int, floor_ms: int = 0) -> GateClock:
    """A gate clock whose system clock is ``days`` behind the true time (a Pi booted offline)."""
    return GateClock(
        floor_ms=floor_ms, wall_ms=lambda: time.time_ns() // 1_000_000 - days * 86_400_000
    )


def test_a_gate_booted_days_behind_judges_by_the_servers_time(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    minute = int(time.time()) // 60 * 60
    claims = TicketClaims(
        ticket_id=506,
        event_id=EVENT_ID,
        valid_from=minute - 3600,
        valid_until=minute + 3 * 3600,
        entries=3,
        key_id=signing_key.key_id,
    )
    ticket = sign_ticket(claims, signing_key)
    outcomes = Outcomes()
    no_debounce = Debouncer(window_ms=0)
    # Offline, with nothing heard from the server, the gate can only go by its own clock.
    with running_kiosk(
        config, network=False, on_scan=outcomes, debouncer=no_debounce, clock=_days_behind(3)
    ) as kiosk:
        kiosk.show(ticket)
        assert outcomes.next().decision.reason == reasons.NOT_YET_VALID
    # Online: the server's first answer (the ack of a scan) shows the clock is behind.
    with running_kiosk(
        config, on_scan=outcomes, debouncer=no_debounce, clock=_days_behind(3)
    ) as kiosk:
        kiosk.show("not a ticket")
        outcomes.next()
        assert fake_server.wait_for(lambda _: kiosk.clock.behind_ms() > 0, 10)
        kiosk.show(ticket)
        admitted = outcomes.next()
        assert admitted.decision.admitted
        pass_sensor(kiosk)
    # Restarted offline and still days behind: the bound saved at shutdown holds.
    with KioskStore(config.store_path) as store:
        floor = saved_floor(store)
    assert floor >= minute * 1000
    with running_kiosk(
        config, network=False, on_scan=outcomes, debouncer=no_debounce, clock=_days_behind(3, floor)
    ) as kiosk:
        kiosk.show(ticket)
        assert outcomes.next().decision.admitted
        assert kiosk.telemetry.metrics(0, time.monotonic())["clock_behind_ms"] > 0
