"""Nothing is lost, nothing is stored twice: the outbox against a real broker and a server
that stores by scan id and acknowledges after storing.

- 10,000 scans queued while the broker is down arrive once each, in order, after it returns;
- a kiosk process killed with SIGKILL at random moments of its drain, and restarted, loses
  nothing (and the server's de-duplication by scan id absorbs the re-sends);
- a broker restart in the middle of a drain loses nothing, with persistence and without it
  (where the broker forgets every session and queued message, and the server's subscription
  is gone until it reconnects: only the kiosk's re-sends of unacknowledged scans save them).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from protocol.signing import SigningKey
from tests.kiosk.conftest import (
    FakeServer,
    fill_outbox,
    outbox_depth,
    running_kiosk,
    start_kiosk_process,
    write_config,
)
from tests.support.brokers import MosquittoBroker

pytestmark = pytest.mark.mosquitto


def stored_more_than(count: int) -> Callable[[FakeServer], bool]:
    return lambda server: len(server.scans) > count


def first_seen_in_seq_order(server: FakeServer) -> bool:
    seqs = [server.scans[scan_id].seq for scan_id in server.order]
    return seqs == sorted(seqs)


def test_ten_thousand_offline_scans_arrive_once_and_in_order(
    persistent_mosquitto: MosquittoBroker, signing_key: SigningKey, tmp_path: Path, gate_id: str
) -> None:
    broker = persistent_mosquitto
    # a short re-send timeout: should the kiosk reconnect before the server has subscribed
    # again, the broker drops what the kiosk sent meanwhile and only the re-send brings it
    config = write_config(
        tmp_path / "kiosk", broker.url, signing_key, gate=gate_id, resend_after=5.0
    )
    server = FakeServer(broker.url)
    try:
        with running_kiosk(config) as kiosk:
            assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
            broker.stop()
            scan_ids = fill_outbox(config, 10_000)
            broker.start()
            assert server.wait_for(lambda s: len(s.scans) == 10_000, timeout=60), len(server.scans)
            deadline = time.monotonic() + 20
            while outbox_depth(config) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert set(server.scans) == set(scan_ids)
        assert server.order == scan_ids  # first arrivals in the kiosk's seq order
        assert outbox_depth(config) == 0
    finally:
        server.close()


def test_sigkill_mid_drain_loses_nothing(
    mosquitto: MosquittoBroker, signing_key: SigningKey, tmp_path: Path, gate_id: str
) -> None:
    config = write_config(tmp_path / "kiosk", mosquitto.url, signing_key, gate=gate_id)
    scan_ids = fill_outbox(config, 3_000)
    server = FakeServer(mosquitto.url)
    rng = random.Random(20261121)
    log = tmp_path / "kiosk.log"
    kills = 0
    try:
        for _ in range(4):
            process = start_kiosk_process(config, log)
            # kill somewhere between "still connecting" and "well into the drain"
            server.wait_for(stored_more_than(len(server.scans)), timeout=15)
            time.sleep(rng.uniform(0.0, 0.4))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        assert len(server.scans) < len(scan_ids), "the drain finished before the kills"
        process = start_kiosk_process(config, log)
        try:
            assert server.wait_for(lambda s: len(s.scans) == len(scan_ids), timeout=40)
            deadline = time.monotonic() + 20
            while outbox_depth(config) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.terminate()
            assert process.wait(20) == 0
        assert set(server.scans) == set(scan_ids)
        assert first_seen_in_seq_order(server)
        assert outbox_depth(config) == 0
        assert kills == 4
    finally:
        server.close()


@pytest.mark.parametrize("persistence", [True, False])
def test_broker_restart_mid_drain_loses_nothing(
    signing_key: SigningKey, tmp_path: Path, gate_id: str, persistence: bool
) -> None:
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    workdir.chmod(0o777)  # see persistent_mosquitto
    with MosquittoBroker(workdir, persistence=persistence) as mosquitto:
        drain_through_a_restart(mosquitto, signing_key, tmp_path, gate_id)


def drain_through_a_restart(
    mosquitto: MosquittoBroker, signing_key: SigningKey, tmp_path: Path, gate_id: str
) -> None:
    config = write_config(
        tmp_path / "kiosk", mosquitto.url, signing_key, gate=gate_id, resend_after=2.0
    )
    scan_ids = fill_outbox(config, 3_000)
    server = FakeServer(mosquitto.url)
    try:
        with running_kiosk(config):
            assert server.wait_for(lambda s: len(s.scans) >= 500, timeout=20)
            mosquitto.restart()
            assert server.wait_for(lambda s: len(s.scans) == len(scan_ids), timeout=40), len(
                server.scans
            )
            deadline = time.monotonic() + 20
            while outbox_depth(config) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert set(server.scans) == set(scan_ids)
        assert outbox_depth(config) == 0
    finally:
        server.close()
