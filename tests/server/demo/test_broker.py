"""The demo's embedded amqtt broker carries real MQTT traffic between real clients."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server.demo.broker import EmbeddedBroker


def test_embedded_broker_relays_qos1_and_retained_messages() -> None:
    with EmbeddedBroker() as broker:
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        publisher.publish("demo/status", b"online", qos=1, retain=True).wait_for_publish(5)

        received: list[tuple[str, bytes]] = []
        got_both = threading.Event()

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            received.append((message.topic, bytes(message.payload)))
            if len(received) == 2:
                got_both.set()

        subscribed = threading.Event()
        subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub")
        subscriber.on_message = on_message
        subscriber.on_subscribe = lambda *_args: subscribed.set()
        subscriber.connect(broker.host, broker.port)
        subscriber.loop_start()
        subscriber.subscribe("demo/#", qos=1)
        assert subscribed.wait(5)
        publisher.publish("demo/scans", b"scan-1", qos=1).wait_for_publish(5)
        try:
            assert got_both.wait(10)
            assert ("demo/status", b"online") in received  # the retained message
            assert ("demo/scans", b"scan-1") in received
        finally:
            for client in (publisher, subscriber):
                client.loop_stop()
                client.disconnect()


def test_broker_stops_and_frees_its_port() -> None:
    broker = EmbeddedBroker().start()
    port = broker.port
    broker.stop()
    again = EmbeddedBroker(port=port).start()
    try:
        assert again.port == port
    finally:
        again.stop()
