"""Reading the kiosk TOML: typed values, defaults, environment overrides, errors by key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.gate import RelayMode
from kiosk.config import (
    KioskConfigError,
    config_from_mapping,
    default_client_id,
    load_config,
)
from tests.conftest import REPO_ROOT

MINIMAL: dict[str, Any] = {"site": {"id": "expo-hall", "gate": "north-1"}}


def test_the_deployed_example_is_valid() -> None:
    config = load_config(REPO_ROOT / "deploy" / "kiosk" / "kiosk.toml", env={})
    assert config.site.id and config.site.gate
    assert config.gate.relay_mode is RelayMode.PULSE
    assert config.mqtt.client_id


def test_defaults_for_a_minimal_file(tmp_path: Path) -> None:
    config = config_from_mapping(MINIMAL, base_dir=tmp_path, env={})
    assert config.mqtt.client_id == default_client_id("expo-hall", "north-1")
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("127.0.0.1", 1883, False)
    assert config.store_path == tmp_path / "kiosk.db"
    assert config.outbox.window == 100
    assert config.policy.gate_id == "north-1" and config.policy.site == "expo-hall"
    assert config.site.language == "zh-CN"
    assert config.server_url is None
    assert (config.catchup_timeout, config.telemetry_interval) == (30.0, 60.0)


def test_mqtts_url_means_tls_on_8883(tmp_path: Path) -> None:
    data = {**MINIMAL, "mqtt": {"url": "mqtts://broker.example"}}
    config = config_from_mapping(data, base_dir=tmp_path, env={})
    assert (config.mqtt.port, config.mqtt.tls) == (8883, True)


def test_environment_overrides_single_settings(tmp_path: Path) -> None:
    env = {
        "ADMIT_MQTT_URL": "mqtt://10.0.0.5:1884",
        "ADMIT_MQTT_KEEPALIVE": "15",
        "ADMIT_STORE_PATH": "/var/lib/admit/k.db",
        "ADMIT_GATE_PIN_FACTORY": "mock",
    }
    config = config_from_mapping(MINIMAL, base_dir=tmp_path, env=env)
    assert config.mqtt.port == 1884 and config.mqtt.keepalive == 15
    assert config.store_path == Path("/var/lib/admit/k.db")
    assert config.gate.pin_factory == "mock"


def test_password_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\n")
    data = {**MINIMAL, "mqtt": {"username": "kiosk-1", "password_file": "secret"}}
    config = config_from_mapping(data, base_dir=tmp_path, env={})
    assert config.mqtt.password == "s3cret"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"site": {"id": "Expo Hall", "gate": "g"}}, "site.id"),
        ({"site": {"id": "x"}}, "site.gate is required"),
        ({**MINIMAL, "mqtt": {"url": "http://x"}}, "mqtt.url"),
        ({**MINIMAL, "mqtt": {"keepalive": "30"}}, "mqtt.keepalive"),
        ({**MINIMAL, "mqtt": {"colour": 1}}, "unknown setting mqtt.colour"),
        ({**MINIMAL, "mqtt": {"password": "a", "password_file": "b"}}, "both set"),
        ({**MINIMAL, "outbox": {"window": 0}}, "outbox.window"),
        ({**MINIMAL, "camera": {"source": "webcam"}}, "camera.source"),
        ({**MINIMAL, "camera": {"decoder": "magic"}}, "camera.decoder"),
        ({**MINIMAL, "gate": {"relay_pin": 99}}, "gate: relay_pin"),
        ({**MINIMAL, "policy": {"direction": "up"}}, "policy.direction"),
        ({**MINIMAL, "printer": {}}, "unknown table [printer]"),
        ({**MINIMAL, "server": {"url": "ftp://x"}}, "server.url"),
        ({**MINIMAL, "server": {"catchup_timeout": 0}}, "server.catchup_timeout"),
        ({**MINIMAL, "telemetry": {"interval": "1m"}}, "telemetry.interval"),
        ({**MINIMAL, "telemetry": {"every": 5}}, "unknown setting telemetry.every"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, data: dict[str, Any], named: str) -> None:
    with pytest.raises(KioskConfigError) as caught:
        config_from_mapping(data, base_dir=tmp_path, env={})
    assert any(named in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = {"site": {"id": "x"}, "mqtt": {"keepalive": -1}, "outbox": {"window": 0}}
    with pytest.raises(KioskConfigError) as caught:
        config_from_mapping(data, base_dir=tmp_path, env={})
    assert len(caught.value.problems) >= 3


def test_bad_environment_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(KioskConfigError, match="ADMIT_MQTT_KEEPALIVE"):
        config_from_mapping(MINIMAL, base_dir=tmp_path, env={"ADMIT_MQTT_KEEPALIVE": "soon"})


def test_missing_and_broken_files_give_config_errors(tmp_path: Path) -> None:
    with pytest.raises(KioskConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[site\nid=")
    with pytest.raises(KioskConfigError, match="not valid TOML"):
        load_config(broken, env={})


toml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70_000)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
table_names = st.sampled_from(
    ["site", "mqtt", "store", "outbox", "server", "camera", "policy", "gate", "scanner", "x"]
)


@given(
    st.dictionaries(
        table_names,
        st.dictionaries(st.text(max_size=12), toml_values, max_size=4) | toml_values,
        max_size=6,
    )
)
def test_any_document_gives_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        config_from_mapping(data, base_dir=Path("/nonexistent"), env={})
    except KioskConfigError as exc:
        assert exc.problems


def test_example_file_parses_as_toml() -> None:
    text = (REPO_ROOT / "deploy" / "kiosk" / "kiosk.toml").read_text()
    assert {"site", "mqtt", "store", "policy", "gate", "scanner", "camera"} <= set(
        tomllib.loads(text)
    )
