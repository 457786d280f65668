"""A fake kiosk for bridge tests: a plain paho client speaking the protocol, no kiosk code.

It records every message it receives per topic kind, can publish scans, statuses and raw
payloads, answers commands when asked to, and can die without a clean disconnect (so the broker
publishes its last will).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import messages
from protocol.messages import Command, CommandResult, Scan, Status
from protocol.topics import Topics, parse_topic

WAIT_SECONDS = 20.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` (liveness, not timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class FakeKiosk:
    def __init__(
        self,
        url: str,
        *,
        site: str,
        gate: str,
        root: str,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 60,
        answer_commands: bool = False,
        on_message: Callable[[str, messages.Message], None] | None = None,
    ) -> None:
        self.site = site
        self.gate = gate
        self.root = root
        self.topics = Topics(site, root)
        self.received: dict[str, list[messages.Message]] = defaultdict(list)
        self.answer_commands = answer_commands
        self.hook = on_message
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._seq = 0
        parts = urlsplit(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fake-{gate}-{uuid.uuid4().hex[:8]}"
        )
        if username:
            self.client.username_pw_set(username, password)
        will = status_message(
            gate, "lost", allowlist_version=0, revocations_version=0, outbox_depth=0, since=0, ts=0
        )
        self.client.will_set(self.topics.status(gate), messages.encode(will), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=keepalive)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT_SECONDS):
            raise AssertionError("fake kiosk did not subscribe")

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe([(topic, 1) for topic in self.topics.kiosk_subscriptions(self.gate)])

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        ref = parse_topic(msg.topic, self.root)
        try:
            message = messages.decode(msg.payload)
        except messages.MessageError:
            return
        if ref is None:
            return
        if self.hook is not None:
            self.hook(ref.kind, message)
        with self._lock:
            self.received[ref.kind].append(message)
        if self.answer_commands and isinstance(message, Command):
            result = CommandResult(
                command_id=message.command_id,
                gate=self.gate,
                ok=True,
                error=None,
                detail={"done": message.name},
                ts=int(time.time() * 1000),
            )
            # From paho's own thread: publish without waiting (waiting would block the loop).
            client.publish(self.topics.command_results(self.gate), messages.encode(result), qos=1)

    def messages_of(self, kind: str) -> list[Any]:
        with self._lock:
            return list(self.received[kind])

    def acked_ids(self) -> set[str]:
        return {scan_id for ack in self.messages_of("acks") for scan_id in ack.scan_ids}

    def publish_raw(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT_SECONDS)

    def scan(self, *, decision: str = "admitted", reason: str = "admitted", **fields: Any) -> Scan:
        self._seq += 1
        values: dict[str, Any] = {
            "scan_id": f"{self.gate}.{self._seq:06d}",
            "gate": self.gate,
            "seq": self._seq,
            "scanned_at": 1748771999750 + self._seq,
            "offline": False,
            "direction": "in",
            "decision": decision,
            "reason": reason,
            "ticket_id": None,
            "event_id": None,
            "code_hash": None,
            "entry_no": None,
            "ts": int(time.time() * 1000),
            **fields,
        }
        return Scan(**values)

    def send(self, message: messages.Message, *, topic_gate: str | None = None) -> None:
        gate = topic_gate or self.gate
        kind = "scans" if isinstance(message, Scan) else "status"
        retain = isinstance(message, Status)
        self.publish_raw(
            self.topics.gate_topic(gate, kind), messages.encode(message), retain=retain
        )

    def status(self, state: str = "online", **fields: Any) -> Status:
        return status_message(self.gate, state, **fields)

    def die(self) -> None:
        """Drop the connection without DISCONNECT, as a crash or a pulled cable would."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def status_message(gate: str, state: str = "online", **fields: Any) -> Status:
    """A fake kiosk's ``status`` (lists at versions 3 and 1, 7 scans waiting), ``fields``
    replacing any of it."""
    values: dict[str, Any] = {
        "gate": gate,
        "state": state,
        "mode": "normal",
        "allowlist_version": 3,
        "revocations_version": 1,
        "outbox_depth": 7,
        "software": "fake-kiosk 1",
        "since": 1748771995000,
        "ts": int(time.time() * 1000),
        **fields,
    }
    return Status(**values)
