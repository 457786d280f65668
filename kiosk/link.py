"""The kiosk's MQTT session (paho-mqtt 2.x, callback API v2).

One :class:`MqttLink` owns one paho client: a stable client id, a persistent session (MQTT
3.1.1 ``clean_session`` off, so the broker keeps our subscriptions and queues commands and acks
while we are away), the retained ``status`` last will (state ``lost``), automatic reconnects
with backoff, and the kiosk's subscriptions (SPEC.md, subscriptions). Before a clean stop it
publishes a retained ``offline`` status and waits for it to leave, since the broker does not
send the will after a clean disconnect.

Every inbound message is decoded with :mod:`protocol.messages` on paho's thread and handed on
as a :class:`LinkEvent`; a payload that does not decode, names another gate or site than its
topic, or arrives on a foreign topic becomes a :class:`Malformed` event (counted and logged)
instead. No callback raises into paho: a bug in a handler is logged and the session goes on.
The consumer (``kiosk.app``'s network worker) does the real work on its own thread.
"""

from __future__ import annotations

import logging
import math
import queue
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from kiosk import lists
from kiosk.commands import CommandHandler
from kiosk.config import MqttConfig
from kiosk.outbox import OutboxDrain
from kiosk.store import GossipAdmission, KioskStore
from kiosk.telemetry import TelemetryRecorder
from protocol import messages, topics
from protocol.messages import Message, MessageError

log = logging.getLogger(__name__)

#: reconnect backoff (seconds): paho doubles the delay from the first to the second
RECONNECT_MIN_DELAY = 1
RECONNECT_MAX_DELAY = 30
#: list update refusals after which the kiosk waits for a catch-up (kiosk.lists outcomes)
CATCHUP_OUTCOMES = ("gap", "digest_mismatch")
#: what only the server publishes (the broker's ACL: gates publish under their own topics);
#: their ``ts`` is the server's clock. ``_staff`` admissions too, see ``LinkWorker._heard``.
SERVER_KINDS = (
    messages.ScanAck,
    messages.Command,
    messages.ListUpdate,
    messages.ListAnnounce,
    messages.Admission,
)
#: status fields whose changes alone republish the status at most every ``status_interval``
RATE_LIMITED_FIELDS = ("outbox_depth", "staff_seq")
#: a status the staff admissions ask for (a hole in their chain, a resend received) goes out
#: at most this often (seconds), or every ``status_interval`` when that is shorter
STAFF_STATUS_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Connected:
    #: the broker still had our session (subscriptions, queued QoS 1 messages)
    session_present: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str


@dataclass(frozen=True, slots=True)
class Received:
    """A valid message on one of our topics; its gate/site agree with the topic."""

    ref: topics.TopicRef
    message: Message


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that was refused; ``error.command_id`` is set for an answerable command."""

    topic: str
    ref: topics.TopicRef | None
    error: MessageError


LinkEvent = Connected | Disconnected | Received | Malformed
EventHandler = Callable[[LinkEvent], None]
#: called with (list, site version, site digest) when a list is found behind the site's
ListsBehind = Callable[[str, int, str], None]


class MqttLink:
    """The paho client of one gate, configured from ``[mqtt]``; thread-safe to publish from."""

    def __init__(
        self,
        config: MqttConfig,
        site: str,
        gate: str,
        on_event: EventHandler,
        *,
        max_in_flight: int = 100,
    ) -> None:
        self.config = config
        self.gate = gate
        self.topics = topics.Topics(site, config.root)
        self._on_event = on_event
        self._connected = threading.Event()
        #: the mid of the subscribe sent on connect, and whether the session was present
        self._subscribe_mid: tuple[int, bool] | None = None
        self.malformed_count = 0
        self.received_count = 0
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            reconnect_on_failure=True,
        )
        if config.username:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set(
                ca_certs=str(config.ca_file) if config.ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        # paho's own window only needs to cover the outbox window plus status/results/gossip
        client.max_inflight_messages_set(max_in_flight + 20)
        client.on_connect = self._guarded(self._handle_connect)
        client.on_disconnect = self._guarded(self._handle_disconnect)
        client.on_message = self._guarded(self._handle_message)
        client.on_connect_fail = self._guarded(self._handle_connect_fail)
        client.on_subscribe = self._guarded(self._handle_subscribe)
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def set_will(self, status: messages.Status) -> None:
        """The retained status the broker publishes if we vanish (state ``lost``); takes
        effect on the next (re)connect."""
        self._client.will_set(
            self.topics.status(self.gate), messages.encode(status), qos=1, retain=True
        )

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting until :meth:`stop`."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Hand a message to paho; False when it was not taken (not connected, queue full).

        Callers that must not lose a message keep it themselves until it is acknowledged end to
        end; this never queues in RAM while disconnected.
        """
        if not self._connected.is_set():
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_message(self, message: Message, topic: str, qos: int = 1) -> bool:
        return self.publish(topic, messages.encode(message), qos=qos)

    def stop(self, final_status: messages.Status | None = None, timeout: float = 5.0) -> None:
        """Publish ``final_status`` (retained ``offline``) if connected, then disconnect cleanly."""
        if final_status is not None and self._connected.is_set():
            info = self._client.publish(
                self.topics.status(self.gate), messages.encode(final_status), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                log.warning("offline status was not confirmed before disconnecting: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    # paho callbacks (paho's network thread) ---------------------------------------------

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                log.exception("MQTT callback %s failed; the link carries on", callback.__name__)

        return guarded

    def _handle_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        # "connected" only once the broker has confirmed the subscriptions: a command or ack
        # published before that would not reach us
        result, mid = client.subscribe(
            [(topic, 1) for topic in self.topics.kiosk_subscriptions(self.gate)]
        )
        if mid is None:  # the connection dropped again at once; paho reconnects
            log.warning("could not subscribe: %s", result)
            return
        self._subscribe_mid = (mid, bool(flags.session_present))
        log.info("connected to %s (session present: %s)", self.config.url, flags.session_present)

    def _handle_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        expected = self._subscribe_mid
        if expected is None or mid != expected[0]:
            return
        self._subscribe_mid = None
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.warning("broker refused %d of our subscriptions (ACL?)", len(refused))
        self._connected.set()
        self._on_event(Connected(session_present=expected[1]))

    def _handle_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            log.warning("disconnected from %s: %s", self.config.url, reason_code)
            self._on_event(Disconnected(reason=str(reason_code)))

    def _handle_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        log.info("broker %s unreachable; retrying", self.config.url)

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self.received_count += 1
        self._on_event(self.classify(msg.topic, bytes(msg.payload)))

    def classify(self, topic: str, payload: bytes) -> Received | Malformed:
        """Decode and check one inbound message against its topic; never raises."""
        ref = topics.parse_topic(topic, self.topics.root)
        if ref is None or ref.site != self.topics.site:
            return self._malformed(
                topic, ref, MessageError(messages.BAD_FIELD, "not a topic of this site")
            )
        try:
            message = messages.decode(payload)
        except MessageError as decode_error:
            return self._malformed(topic, ref, decode_error)
        if not messages.matches_topic(message, ref):
            mismatch = MessageError(
                messages.BAD_FIELD,
                f"a {message.KIND} naming another gate or site than its topic",
                command_id=getattr(message, "command_id", None),
            )
            return self._malformed(topic, ref, mismatch)
        return Received(ref, message)

    def _malformed(self, topic: str, ref: topics.TopicRef | None, error: MessageError) -> Malformed:
        self.malformed_count += 1
        log.warning("refused message on %s: %s", topic, error)
        return Malformed(topic, ref, error)


@dataclass(frozen=True, slots=True)
class _Wake:
    """New rows in the outbox (or a mode change): pump and refresh the status."""


@dataclass(frozen=True, slots=True)
class _Publish:
    """A best-effort message from the scan loop (admissions gossip)."""

    topic: str
    payload: bytes
    qos: int


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


_WorkItem = LinkEvent | _Wake | _Publish | _Stop


class StatusSource(Protocol):
    """Where the worker reads the gate's state for its ``status`` messages."""

    def status_fields(self) -> dict[str, object]:
        """``mode``, ``allowlist_version``, ``revocations_version``, ``outbox_depth`` and,
        optionally, ``keyring`` (the digest of the trusted keys) and ``staff_seq`` (how far
        the gate holds the server's staff admissions)."""


def server_time_of(message: messages.Message) -> int | None:
    """The server's clock when it sent ``message`` (its ``ts``), or None when a gate sent it:
    a peer gate's clock may be as wrong as ours."""
    if isinstance(message, messages.Admission) and message.gate != topics.STAFF_GATE:
        return None
    return message.ts if isinstance(message, SERVER_KINDS) else None


class LinkWorker:
    """The kiosk's network thread: everything that touches the broker happens here.

    It consumes the link's events and the scan loop's wake-ups from one queue, so the scan
    loop never waits for the network: acknowledgements delete outbox rows and free the drain's
    window, commands and list updates are carried out and answered, peers' admissions go into
    the ledger (a batch's in one transaction), and the retained status follows the gate's
    state. It owns its own store connection (``store``), separate from the scan loop's.

    Staff admissions the server resends (on the gate's own ``lists`` topic), and a staff
    admission that shows one before it never came (its ``prev`` is above the gate's
    ``staff_seq``), ask for a status within :data:`STAFF_STATUS_SECONDS`: the server reads
    ``staff_seq`` from it and sends what is missing, the next batch of a resend included.
    """

    def __init__(
        self,
        link: MqttLink,
        store: KioskStore,
        drain: OutboxDrain,
        commands: CommandHandler,
        status: StatusSource,
        *,
        software: str,
        status_interval: float = 5.0,
        telemetry: TelemetryRecorder | None = None,
        telemetry_interval: float = 60.0,
        on_lists_behind: ListsBehind | None = None,
        clock: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        on_server_time: Callable[[int], None] | None = None,
    ) -> None:
        self.link = link
        self._store = store
        self._drain = drain
        self._commands = commands
        self._status = status
        self._software = software
        self._status_interval = status_interval
        self._clock = clock
        self._now_ms = now_ms
        self._queue: queue.SimpleQueue[_WorkItem] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kiosk-link", daemon=True)
        self._since = now_ms()
        self._last_status: dict[str, object] | None = None
        self._last_status_at = -math.inf
        #: the staff admissions asked for a status (see the class docstring)
        self._staff_status_wanted = False
        self._telemetry = telemetry
        self._telemetry_interval = telemetry_interval
        self._next_telemetry_at = clock() + telemetry_interval
        self._on_lists_behind = on_lists_behind
        self._on_server_time = on_server_time
        #: list -> (version, digest) the site's latest ``list_announce`` names
        self._site_heads: dict[str, tuple[int, str]] = {}
        self.counts: Counter[str] = Counter()

    # --- called from other threads -------------------------------------------------------

    def post(self, event: LinkEvent) -> None:
        """The link's event handler (paho's thread)."""
        self._queue.put(event)

    def wake(self) -> None:
        """New outbox rows or a changed mode (scan loop, gate callbacks)."""
        self._queue.put(_Wake())

    def publish_later(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Best-effort publish from the scan loop (gossip); dropped when offline."""
        self._queue.put(_Publish(topic, payload, qos))

    def start(self) -> None:
        self.link.set_will(self._status_message("lost"))
        self._thread.start()
        self.link.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish queued work, publish the retained ``offline`` status, disconnect."""
        self._queue.put(_Stop())
        self._thread.join(timeout)
        self._since = self._now_ms()
        try:
            final = self._status_message("offline")
        except Exception:
            log.exception("could not build the offline status")
            final = None
        self.link.stop(final, timeout)

    # --- the worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._wait_time())
            except queue.Empty:
                item = _Wake()
            items = [item]
            while len(items) < 1000:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(isinstance(each, _Stop) for each in items)
            try:
                self._handle_batch(items)
                if self.link.connected:
                    self._drain.pump()
                    self._publish_status(force=False)
                    self._publish_telemetry()
            except Exception:
                self.counts["worker_errors"] += 1
                log.exception("link worker step failed; carrying on")
            if stop:
                return

    def _wait_time(self) -> float:
        wait = 1.0
        resend = self._drain.next_resend_in()
        if resend is not None:
            wait = min(wait, resend + 0.01)
        if self._staff_status_wanted and self.link.connected:
            due = self._last_status_at + self._staff_status_spacing() - self._clock()
            wait = min(wait, max(due, 0.0) + 0.01)
        return wait

    def _staff_status_spacing(self) -> float:
        return min(self._status_interval, STAFF_STATUS_SECONDS)

    def _handle_batch(self, items: list[_WorkItem]) -> None:
        ack_ids: list[str] = []
        watermark = 0
        gossip: list[GossipAdmission] = []
        resent = False
        for item in items:
            if isinstance(item, Received):
                self._heard(item.message)
            if isinstance(item, Received) and isinstance(item.message, messages.ScanAck):
                ack_ids.extend(item.message.scan_ids)
                watermark = max(watermark, item.message.watermark)
                self.counts["acks"] += 1
            elif isinstance(item, Received) and isinstance(item.message, messages.Admission):
                if item.message.gate != self.link.gate:
                    gossip.append(GossipAdmission.from_message(item.message))
                    resent = resent or item.ref.kind == topics.LISTS
            else:
                self._handle(item)
        if gossip:
            self._record_gossip(gossip, resent=resent)
        if ack_ids or watermark:
            self._drain.handle_ack(ack_ids, watermark)

    def _record_gossip(self, gossip: list[GossipAdmission], *, resent: bool) -> None:
        """Peers' admissions into the ledger in one transaction; a resend received or a hole
        in the staff chain asks for a status."""
        self.counts["gossip"] += len(gossip)
        self._store.record_gossips(gossip)
        newest = max((each.staff_seq or 0 for each in gossip), default=0)
        if resent:
            self.counts["staff_resent"] += len(gossip)
            self._staff_status_wanted = True
        if newest > self._store.staff_seq():
            self.counts["staff_gaps"] += 1
            self._staff_status_wanted = True

    def _handle(self, item: _WorkItem) -> None:
        if isinstance(item, Connected):
            self._since = self._now_ms()
            if self._telemetry is not None:
                self._telemetry.connected()
            # whatever was in flight when the link dropped may be gone (paho's RAM queue, a
            # broker without persistence, a server not subscribed yet): send it again now
            # rather than after the resend timeout; the server de-duplicates by scan id
            self._drain.forget_in_flight()
            self._publish_status(force=True)
        elif isinstance(item, Disconnected):
            self._since = self._now_ms()
        elif isinstance(item, _Publish):
            if not self.link.publish(item.topic, item.payload, item.qos):
                self.counts["gossip_dropped"] += 1
        elif isinstance(item, Malformed):
            self.counts["malformed"] += 1
            result = self._commands.refuse_malformed(item.error)
            if result is not None and item.ref is not None and item.ref.kind == topics.COMMANDS:
                self._answer(result)
        elif isinstance(item, Received):
            self._handle_message(item)

    def _heard(self, message: messages.Message) -> None:
        """Pass on the send time of a message the server sent: :class:`kiosk.clock.GateClock`
        keeps the gate's time from running behind it."""
        sent_at = server_time_of(message)
        if sent_at is not None and self._on_server_time is not None:
            self._on_server_time(sent_at)

    def _handle_message(self, item: Received) -> None:
        message = item.message
        if isinstance(message, messages.Command):
            self.counts["commands"] += 1
            self._answer(self._commands.handle(message))
            self._publish_status(force=True)
        elif isinstance(message, messages.ListUpdate):
            self.counts["list_updates"] += 1
            # A snapshot on our own lists topic may take the list back to the site's announced
            # head (the server's database was restored); anything else only moves it forward.
            allow_rollback = item.ref.kind == topics.LISTS and lists.may_roll_back(
                message,
                self._store.list_version(message.list).version,
                self._site_heads.get(message.list),
            )
            result = self._commands.handle_list_update(message, allow_rollback=allow_rollback)
            self._answer(result)
            self._publish_status(force=True)
            if result.error in CATCHUP_OUTCOMES and self._on_lists_behind is not None:
                self._on_lists_behind(message.list, message.to_version, message.digest)
        elif isinstance(message, messages.ListAnnounce):
            self._compare_announce(message)

    def _compare_announce(self, announce: messages.ListAnnounce) -> None:
        held = {name: self._store.list_version(name) for name in messages.LIST_NAMES}
        site = {
            "allowlist": (announce.allowlist_version, announce.allowlist_digest),
            "revocations": (announce.revocations_version, announce.revocations_digest),
        }
        self._site_heads = dict(site)
        behind = [
            name
            for name, (version, digest) in site.items()
            if (held[name].version, held[name].digest) != (version, digest)
        ]
        if behind:
            # the server keeps every gate's last status: republishing ours tells it which
            # versions we hold, and it answers with deltas or a snapshot on our lists topic
            self.counts["lists_behind"] += 1
            log.info(
                "lists differ from the site's: %s",
                ", ".join(f"{n} v{held[n].version} (site v{site[n][0]})" for n in behind),
            )
            self._publish_status(force=True)
            if self._on_lists_behind is not None:
                for name in behind:
                    self._on_lists_behind(name, *site[name])

    def _publish_telemetry(self) -> None:
        """Every ``telemetry_interval`` seconds while connected (QoS 0: a lost one is fine)."""
        if self._telemetry is None or self._clock() < self._next_telemetry_at:
            return
        self._next_telemetry_at = self._clock() + self._telemetry_interval
        telemetry = messages.Telemetry(
            gate=self.link.gate,
            metrics=self._telemetry.metrics(self._store.outbox_depth(), self._clock()),
            ts=self._now_ms(),
        )
        topic = self.link.topics.telemetry(self.link.gate)
        if self.link.publish(topic, messages.encode(telemetry), 0):
            self.counts["telemetry"] += 1

    def _answer(self, result: messages.CommandResult) -> None:
        topic = self.link.topics.command_results(self.link.gate)
        if not self.link.publish(topic, messages.encode(result), 1):
            self.counts["results_unsent"] += 1
            log.warning("result of %s not sent (link down)", result.command_id)

    def _publish_status(self, *, force: bool) -> None:
        fields = self._status.status_fields()
        elapsed = self._clock() - self._last_status_at
        wanted = self._staff_status_wanted and elapsed >= self._staff_status_spacing()
        if not force and not wanted:
            if fields == self._last_status:
                return
            only_counts = self._last_status is not None and all(
                fields[key] == self._last_status.get(key)
                for key in fields
                if key not in RATE_LIMITED_FIELDS
            )
            if only_counts and elapsed < self._status_interval:
                return
        status = self._status_message("online", fields)
        if self.link.publish(
            self.link.topics.status(self.link.gate), messages.encode(status), 1, True
        ):
            self._last_status = fields
            self._last_status_at = self._clock()
            self._staff_status_wanted = False
            self.link.set_will(self._status_message("lost", fields))

    def _status_message(
        self, state: str, fields: dict[str, object] | None = None
    ) -> messages.Status:
        values = fields if fields is not None else self._status.status_fields()
        return messages.Status(
            gate=self.link.gate,
            state=state,
            mode=str(values["mode"]),
            allowlist_version=int(values["allowlist_version"]),  # type: ignore[call-overload]
            revocations_version=int(values["revocations_version"]),  # type: ignore[call-overload]
            outbox_depth=int(values["outbox_depth"]),  # type: ignore[call-overload]
            software=self._software,
            since=self._since,
            ts=self._now_ms(),
            keyring=_optional_text(values.get("keyring")),
            staff_seq=_optional_int(values.get("staff_seq")),
        )


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
