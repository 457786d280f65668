"""``admit kiosk``: status, enroll and run through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from admit_cli import main as admit
from kiosk.cli import kiosk
from kiosk.simulate import SimulatedKioskProcess
from protocol.signing import SigningKey
from tests.kiosk.conftest import FakeServer, fill_outbox, make_ticket, write_config
from tests.kiosk.test_enroll import TOKEN, EnrollServer, answer

UNREACHABLE = "mqtt://127.0.0.1:9"


def test_status_json_reports_lists_outbox_and_keys(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    fill_outbox(config, 3)
    result = CliRunner().invoke(kiosk, ["status", "--config", str(config.path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["outbox"]["depth"] == 3 and report["outbox"]["oldest_ms"] > 0
    assert report["lists"]["allowlist"] == {"version": 0, "digest": "0" * 64, "count": 0}
    assert report["trusted_keys"] == ["1"]
    assert (report["site"], report["gate"], report["mode"]) == ("expo-hall", "north-1", "normal")


def test_status_as_tables(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    result = CliRunner().invoke(kiosk, ["status", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "Outbox: 0 scans" in result.output and "Trusted keys: 1" in result.output


def test_status_without_a_store_says_to_enroll(signing_key: SigningKey, tmp_path: Path) -> None:
    config = write_config(tmp_path, UNREACHABLE, signing_key)
    config.store_path.unlink()
    result = CliRunner().invoke(kiosk, ["status", "--config", str(config.path)])
    assert result.exit_code != 0 and "enroll first" in result.output


def test_a_bad_config_is_reported_by_key(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[site]\nid = "x"\n[mqtt]\nkeepalive = "soon"\n')
    result = CliRunner().invoke(kiosk, ["status", "--config", str(path)])
    assert result.exit_code != 0
    assert "site.gate is required" in result.output and "mqtt.keepalive" in result.output


def test_enroll_command(tmp_path: Path) -> None:
    server = EnrollServer(answer(SigningKey.from_seed(1, bytes(range(32)))))
    try:
        path = tmp_path / "kiosk.toml"
        result = CliRunner().invoke(kiosk, ["enroll", server.url, TOKEN, "--config", str(path)])
        assert result.exit_code == 0, result.output
        assert "enrolled as expo-hall/south-2" in result.output and "allowlist v5" in result.output
        refused = CliRunner().invoke(kiosk, ["enroll", server.url, "spent", "--config", str(path)])
        assert refused.exit_code != 0 and "token spent" in refused.output
    finally:
        server.close()


def test_admit_kiosk_is_this_group() -> None:
    result = CliRunner().invoke(admit, ["kiosk", "--help"])
    assert result.exit_code == 0
    for command in ("run", "enroll", "status"):
        assert command in result.output


@pytest.mark.mosquitto
def test_run_simulate_reads_tickets_from_stdin(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    """``admit kiosk run --simulate`` in a subprocess: a ticket text on its stdin goes through
    the synthetic camera, the decoder and the decision, and reaches the server; SIGTERM
    stops it cleanly."""
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    assert config.path is not None
    config.path.write_text(
        config.path.read_text().replace('source = "none"', 'source = "synthetic"')
    )
    process = SimulatedKioskProcess(config.path, log_path=tmp_path / "kiosk.log").start()
    try:
        process.show(make_ticket(signing_key, 777))
        assert fake_server.wait_for(lambda s: len(s.scans) == 1, 30), (
            tmp_path / "kiosk.log"
        ).read_text()
    finally:
        assert process.terminate() == 0
    scan = next(iter(fake_server.scans.values()))
    assert (scan.ticket_id, scan.reason, scan.gate) == (777, "admitted", gate_id)
