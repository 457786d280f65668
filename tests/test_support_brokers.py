"""The broker fixtures start real brokers that accept real MQTT clients."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt

from tests.support.brokers import MosquittoBroker


def _round_trip(url: str) -> bytes:
    host, port = url.removeprefix("mqtt://").split(":")
    received = threading.Event()
    payloads: list[bytes] = []
    topic = f"admit-test/{uuid.uuid4().hex}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        payloads.append(message.payload)
        received.set()

    client.on_message = on_message
    client.connect(host, int(port))
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        client.publish(topic, b"hello", qos=1).wait_for_publish(5)
        assert received.wait(5), "message did not come back through the broker"
    finally:
        client.loop_stop()
        client.disconnect()
    return payloads[0]


def test_mqtt_url_fixture_is_a_working_broker(mqtt_url: str) -> None:
    assert _round_trip(mqtt_url) == b"hello"


def test_private_mosquitto_survives_restart(mosquitto: MosquittoBroker) -> None:
    assert _round_trip(mosquitto.url) == b"hello"
    mosquitto.restart()
    assert _round_trip(mosquitto.url) == b"hello"


def test_private_mosquitto_keeps_its_persistence_file(mosquitto: MosquittoBroker) -> None:
    assert _round_trip(mosquitto.url) == b"hello"
    mosquitto.stop()
    assert (mosquitto.workdir / "mosquitto.db").exists()
    assert mosquitto.log_path.exists()
