"""The MQTT bridge: gate messages in, acknowledgements, commands and lists out.

Threads (one bridge per server instance):

- paho's network thread receives messages and puts them on a bounded queue (backpressure: when
  the database is slow the queue fills and paho stops reading, so the broker holds the rest);
- the ingest thread takes a batch (up to ``ingest_batch_size`` messages, waiting at most
  ``ingest_batch_wait`` after the first), stores it in one transaction, commits, then publishes
  the ScanAcks and MQTT-acknowledges the batch's messages (``manual_ack``): a server that dies
  mid-batch gets those messages again from the broker, and a kiosk only ever hears "stored"
  for committed scans;
- the check-in stage records stored scans in the check-in log (:mod:`server.fleet.checkins`),
  off the acknowledgement path; during a burst (messages waiting, a batch being stored, or a
  message received in the last ``CHECKIN_QUIET_SECONDS``) it records one small batch
  (``CHECKIN_BURST_BATCH``) a second and catches up when the burst ends;
- the list publisher waits for committed list changes (or a periodic sweep, for changes made by
  other processes) and publishes ``list_update`` deltas and the retained ``list_announce``,
  then gossips queued staff check-ins to the gates (:mod:`server.fleet.staff_admissions`) and
  sends gates whose status shows missed updates what they miss (:mod:`server.fleet.catchup`).

While running, the bridge also listens to :data:`server.signals.keys_changed` in this process and
sends each gate of the merchant its new keyring (:mod:`server.fleet.keyrings`).

Scans arrive through the shared subscription ``$share/<group>/<root>/v1/+/gates/+/scans`` with
MQTT 5, so several server instances split them; with ``mqtt_protocol = "3.1.1"`` (amqtt has no
MQTT 5) the subscription is plain and only one bridge may run. Status, results and telemetry
use plain subscriptions on every instance. A malformed, foreign, forged (payload gate differs
from the topic's) or unknown-gate message is counted, logged, acknowledged and dropped; a database
error is counted and the batch retried, so nothing stops the bridge.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from protocol import topics as topic_names
from protocol.messages import MessageError, decode, encode, matches_topic
from protocol.topics import Topics, fleet_subscription, parse_topic, shared_subscription
from server import signals
from server.db import Database
from server.fleet import lists, metrics, staff_admissions
from server.fleet import repository as repo
from server.fleet.catchup import GateCatchup
from server.fleet.checkins import record_pending_checkins
from server.fleet.ingest import Inbound, store_batch
from server.fleet.keyrings import keyring_sender
from server.fleet.live import LiveFeed
from server.fleet.metrics import BridgeMetrics
from server.fleet.models import ListName, SiteList
from server.fleet.settings import FleetSettings

log = logging.getLogger(__name__)

QUEUE_LIMIT = 20000
#: MQTT 5 Receive Maximum: how many QoS 1 messages the broker may have in flight to the bridge.
#: Messages are MQTT-acknowledged only after their batch commits, so this window is the ingest
#: pipeline's depth; without it Mosquitto applies ``max_inflight_messages`` (100 in deploy/,
#: 20 by default) and delivery stalls each time a batch is being stored. At most QUEUE_LIMIT, so
#: the network thread never blocks on a full inbox because of scans.
RECEIVE_MAXIMUM = 10000
RETRY_DELAY = 1.0
CHECKIN_BATCH = 500
#: What the check-in stage records at a time while ingestion is busy.
CHECKIN_BURST_BATCH = 100
CHECKIN_SWEEP_SECONDS = 1.0
CHECKIN_YIELD_SECONDS = 0.05
#: Scans arrived this recently: a burst is on, and the check-in stage gives way to it.
CHECKIN_QUIET_SECONDS = 0.2
#: Longest the check-in stage gives way to a busy ingestion before it records one batch anyway.
CHECKIN_MAX_DEFER_SECONDS = 1.0
#: Staff check-ins gossiped to the gates per transaction.
STAFF_ADMISSION_BATCH = 500
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
KEEPALIVE_SECONDS = 30


class _Received(NamedTuple):
    """One message off the network thread (a tuple: built for every message, and a frozen
    dataclass's ``__init__`` cost three times as much)."""

    topic: str
    payload: bytes
    mid: int
    qos: int


class FleetBridge:
    """One server instance's MQTT connection and its worker threads."""

    def __init__(
        self,
        database: Database,
        fleet_settings: FleetSettings,
        *,
        clock: Callable[[], datetime],
        feed: LiveFeed | None = None,
        metrics_: BridgeMetrics | None = None,
    ) -> None:
        self.database = database
        self.settings = fleet_settings
        self.clock = clock
        self.feed = feed or LiveFeed()
        self.metrics = metrics_ or BridgeMetrics()
        self._inbox: queue.Queue[_Received] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._checkins_waiting = threading.Event()
        #: Set while the ingest thread stores a batch (the check-in stage gives way).
        self._ingesting = threading.Event()
        #: When the network thread last received a message (monotonic seconds).
        self._last_received = 0.0
        self._threads: list[threading.Thread] = []
        #: (venue id, list) -> last version this bridge published.
        self._published: dict[tuple[int, ListName], int] = {}
        self._announce_all = True
        self.client = self._make_client()
        #: Gates whose status shows missed list updates get them on their own lists topic.
        self.catchup = GateCatchup(
            fleet_settings,
            lambda topic, payload: self.publish(topic, payload),
            self.metrics,
            wake=lists.list_changes.notify,
        )
        #: Sends a merchant's new keyring to its gates when its signing keys change.
        self._keys_receiver = keyring_sender(self, fleet_settings, clock)

    # --- connection ------------------------------------------------------------------------------

    @property
    def uses_mqtt5(self) -> bool:
        return self.settings.mqtt_protocol == "5"

    def _make_client(self) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self.uses_mqtt5 else mqtt.MQTTv311
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.mqtt_client_id,
            protocol=protocol,
            clean_session=None if self.uses_mqtt5 else False,
            manual_ack=True,
        )
        username, password = self.settings.broker_credentials
        if username:
            client.username_pw_set(username, password)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self, *, wait: float = 10.0) -> FleetBridge:
        """Connect (retrying in the background), start the threads; wait for the first
        connection up to ``wait`` seconds (the bridge keeps trying after that)."""
        parts = urlsplit(self.settings.mqtt_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 1883
        properties = None
        if self.uses_mqtt5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(
            host,
            port,
            keepalive=KEEPALIVE_SECONDS,
            clean_start=False if self.uses_mqtt5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self.client.loop_start()
        signals.keys_changed.connect(self._keys_receiver)
        loops = (
            (self._ingest_loop, "fleet-ingest"),
            (self._checkin_loop, "fleet-checkins"),
            (self._list_loop, "fleet-lists"),
        )
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self._connected.wait(wait):
            log.warning("MQTT bridge not connected yet", extra={"url": self.settings.mqtt_url})
        return self

    def stop(self) -> None:
        """Finish the batch in hand, stop the threads, disconnect."""
        signals.keys_changed.disconnect(self._keys_receiver)
        self._stopping.set()
        lists.list_changes.notify()
        self._checkins_waiting.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _subscriptions(self) -> list[str]:
        root = self.settings.mqtt_root
        scans = (
            shared_subscription(self.settings.mqtt_share_group, topic_names.SCANS, root)
            if self.uses_mqtt5
            else fleet_subscription(topic_names.SCANS, root)
        )
        others = [
            fleet_subscription(kind, root)
            for kind in (topic_names.STATUS, topic_names.RESULTS, topic_names.TELEMETRY)
        ]
        return [scans, *others]

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("MQTT bridge connection refused", extra={"reason": str(reason_code)})
            return
        client.subscribe([(topic, 1) for topic in self._subscriptions()])
        self.metrics.add(metrics.CONNECTS)
        self._connected.set()
        self._announce_all = True
        lists.list_changes.notify()
        log.info("MQTT bridge connected", extra={"url": self.settings.kiosk_broker_url})

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self.metrics.add(metrics.DISCONNECTS)
        if not self._stopping.is_set():
            log.warning("MQTT bridge disconnected", extra={"reason": str(reason_code)})

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self._last_received = time.monotonic()
        self._inbox.put(_Received(message.topic, bytes(message.payload), message.mid, message.qos))

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """QoS 1 publish; paho queues it while disconnected."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    def _ack(self, received: _Received) -> None:
        if received.qos > 0:
            self.client.ack(received.mid, received.qos)

    # --- ingestion -------------------------------------------------------------------------------

    def _next_batch(self) -> list[_Received]:
        """The first message, then whatever arrives within ``ingest_batch_wait`` (up to
        ``ingest_batch_size``). The thread waits once for the batch and then takes what came,
        instead of waking for every message as it arrives: in a burst those wake-ups, each a
        hand-over of the GIL between the network thread and this one, cost more than the
        messages' storing."""
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        size = self.settings.ingest_batch_size
        if self._inbox.qsize() < size - 1:
            self._stopping.wait(self.settings.ingest_batch_wait.total_seconds())
        batch = [first]
        while len(batch) < size:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _ingest_loop(self) -> None:
        while not (self._stopping.is_set() and self._inbox.empty()):
            batch = self._next_batch()
            if batch:
                self._ingesting.set()
                try:
                    self._ingest(batch)
                finally:
                    self._ingesting.clear()

    def _accept(self, received: _Received) -> Inbound | None:
        """The decoded message, or None (counted and logged) when it must be dropped."""
        ref = parse_topic(received.topic, self.settings.mqtt_root)
        if ref is None or ref.gate is None:
            self.metrics.add(metrics.FOREIGN_TOPIC)
            log.warning("message on a foreign topic", extra={"topic": received.topic})
            return None
        try:
            message = decode(received.payload)
        except MessageError as error:
            self.metrics.add(metrics.MALFORMED)
            log.warning(
                "malformed gate message",
                extra={"topic": received.topic, "reason": error.reason, "detail": error.detail},
            )
            return None
        if not matches_topic(message, ref):
            self.metrics.add(metrics.TOPIC_MISMATCH)
            log.warning(
                "gate message does not match its topic",
                extra={"topic": received.topic, "kind": message.KIND},
            )
            return None
        return Inbound(ref, message)

    def _ingest(self, batch: list[_Received]) -> None:
        self.metrics.add(metrics.RECEIVED, len(batch))
        accepted = [item for item in (self._accept(received) for received in batch) if item]
        while accepted:
            try:
                with self.database.sessions.begin() as session:
                    outcome = store_batch(
                        session, accepted, self.clock(), live=self.feed.subscriber_count > 0
                    )
                break
            except Exception:
                self.metrics.add(metrics.STORE_ERRORS)
                log.exception("storing a batch of gate messages failed; retrying")
                if self._stopping.wait(RETRY_DELAY):
                    return  # unacknowledged: the broker redelivers to the next session
        else:
            outcome = None
        if outcome is not None:
            for name, amount in outcome.counts.items():
                self.metrics.add(name, amount)
            root = self.settings.mqtt_root
            for site, gate, ack in outcome.acks:
                self.publish(Topics(site, root).acks(gate), encode(ack))
            self.metrics.add(metrics.ACKS_SENT, len(outcome.acks))
            for event in outcome.events:
                self.feed.publish(event)
            if outcome.checkins_pending:
                self._checkins_waiting.set()
            self.catchup.observe(accepted)
        self.metrics.add(metrics.BATCHES)
        for received in batch:
            self._ack(received)

    # --- check-in log --------------------------------------------------------------------------

    def _checkin_loop(self) -> None:
        """Record stored admissions in the check-in log; also picks up what an earlier run
        (or another instance) left pending."""
        last_batch = time.monotonic()
        while not self._stopping.is_set():
            busy = (
                self._ingesting.is_set()
                or not self._inbox.empty()
                or time.monotonic() - self._last_received < CHECKIN_QUIET_SECONDS
            )
            if busy and time.monotonic() - last_batch < CHECKIN_MAX_DEFER_SECONDS:
                # Ingestion first: kiosks wait for acks; the check-in log catches up after a
                # burst, and records a small batch at least every CHECKIN_MAX_DEFER_SECONDS
                # meanwhile (the log keeps moving; on SQLite a short write transaction).
                self._stopping.wait(CHECKIN_YIELD_SECONDS)
                continue
            last_batch = time.monotonic()
            limit = CHECKIN_BURST_BATCH if busy else CHECKIN_BATCH
            try:
                with self.database.sessions.begin() as session:
                    done = record_pending_checkins(session, limit=limit, now=self.clock())
            except Exception:
                self.metrics.add(metrics.STORE_ERRORS)
                log.exception("recording gate admissions in the check-in log failed")
                done = 0
                self._stopping.wait(RETRY_DELAY)
            self.metrics.add(metrics.CHECKINS_RECORDED, done)
            if done < limit:
                self._checkins_waiting.wait(CHECKIN_SWEEP_SECONDS)
                self._checkins_waiting.clear()

    # --- list publication ------------------------------------------------------------------------

    def _list_loop(self) -> None:
        interval = self.settings.list_sweep_interval.total_seconds()
        while not self._stopping.is_set():
            if self._connected.is_set():
                try:
                    self.publish_list_changes()
                    self.publish_staff_admissions()
                    self.catchup.send_due(self.database, self.clock())
                except Exception:
                    log.exception("publishing list changes failed")
            lists.list_changes.wait(interval)

    def publish_list_changes(self) -> None:
        """Publish every list version not yet published by this bridge, then the announce.

        The pass after a (re)connect re-announces every site (retained, so kiosks compare it with
        what they hold on connect). At start-up the log's past is not re-sent as deltas.
        """
        ts = int(self.clock().timestamp() * 1000)
        root = self.settings.mqtt_root
        outgoing: list[tuple[str, bytes, bool]] = []
        with self.database.sessions.begin() as session:
            first_pass = self._announce_all
            self._announce_all = False
            heads_by_site: dict[str, dict[ListName, SiteList]] = defaultdict(dict)
            changed: set[str] = set()
            for head, slug in repo.site_lists(session):
                heads_by_site[slug][head.list] = head
                key = (head.venue_id, head.list)
                known = self._published.get(key)
                # A list that appears after start-up is published from version 0.
                published = known if known is not None else (head.version if first_pass else 0)
                self._published[key] = head.version
                if first_pass:
                    changed.add(slug)
                if head.version <= published:
                    continue
                changed.add(slug)
                changes = repo.changes_after(session, head.venue_id, head.list, published)
                for delta in lists.delta_messages(changes, site=slug, name=head.list, ts=ts):
                    try:
                        outgoing.append((Topics(slug, root).site_lists(), encode(delta), False))
                    except MessageError:
                        log.warning("list delta too large; kiosks resync from the announce")
            for slug in sorted(changed):
                announce = lists.announce_message(slug, heads_by_site[slug], ts)
                outgoing.append((Topics(slug, root).list_announce(), encode(announce), True))
        for topic, payload, retain in outgoing:
            self.publish(topic, payload, retain=retain)
            self.metrics.add(metrics.ANNOUNCES_SENT if retain else metrics.LIST_UPDATES_SENT)

    def publish_staff_admissions(self) -> None:
        """Gossip queued staff check-ins to their sites' gates
        (:mod:`server.fleet.staff_admissions`), a batch per transaction until none are left."""
        while not self._stopping.is_set():
            with self.database.sessions.begin() as session:
                taken = staff_admissions.publish_pending(
                    session,
                    lambda topic, payload: self.publish(topic, payload),
                    root=self.settings.mqtt_root,
                    now=self.clock(),
                    limit=STAFF_ADMISSION_BATCH,
                )
            self.metrics.add(metrics.STAFF_ADMISSIONS_SENT, taken)
            if taken < STAFF_ADMISSION_BATCH:
                return


def start_bridge(
    database: Database,
    fleet_settings: FleetSettings,
    *,
    clock: Callable[[], datetime],
    feed: LiveFeed | None = None,
    wait: float = 10.0,
) -> FleetBridge:
    """Start a bridge in this process (``admit demo``, tests); call ``.stop()`` to end it."""
    return FleetBridge(database, fleet_settings, clock=clock, feed=feed).start(wait=wait)
