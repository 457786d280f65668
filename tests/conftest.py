"""Fixtures shared by every test package.

- ``mqtt_url``: a real broker. ``ADMIT_TEST_MQTT_URL`` when set (CI points it at the machine's
  Mosquitto), else a private ``mosquitto`` for the session, else amqtt.
- ``mosquitto``: a private mosquitto with persistence, for tests that restart or configure it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.brokers import AmqttBroker, MosquittoBroker, mosquitto_binary

# These machines are shared and noisy: property tests judge behaviour, never speed.
settings.register_profile(
    "admit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "admit"))

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("ADMIT_TEST_MQTT_URL")
    if external:
        yield external
        return
    workdir = tmp_path_factory.mktemp("broker")
    broker: MosquittoBroker | AmqttBroker
    broker = MosquittoBroker(workdir) if mosquitto_binary() else AmqttBroker(workdir)
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private mosquitto with persistence on; tests may restart it or kill it."""
    if mosquitto_binary() is None:
        pytest.fail("this test needs a mosquitto binary: apt-get install mosquitto")
    with MosquittoBroker(tmp_path / "mosquitto") as broker:
        yield broker
