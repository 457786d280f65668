"""The MQTT link against a real broker: status and last will, commands and results, refused
messages, gossip; plus the topic/payload checks of ``MqttLink.classify``."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from kiosk import lists
from kiosk.config import MqttConfig
from kiosk.link import Malformed, MqttLink, Received, server_time_of
from kiosk.store import KioskStore
from protocol import messages, topics
from protocol.allowlist import ListDigest
from protocol.signing import SigningKey
from tests.kiosk.conftest import (
    SITE,
    FakeServer,
    now_ms,
    running_kiosk,
    start_kiosk_process,
    write_config,
)

pytestmark = pytest.mark.mosquitto


def retained_status(url: str, gate: str, timeout: float = 5.0) -> messages.Status | None:
    """What a dashboard connecting now sees on the gate's retained status topic."""
    got: list[messages.Status] = []
    done = threading.Event()

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        message = messages.decode(msg.payload)
        assert isinstance(message, messages.Status)
        got.append(message)
        done.set()

    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    host, port = url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.subscribe(topics.Topics(SITE).status(gate), qos=1)
    client.loop_start()
    done.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return got[-1] if got else None


def command(
    name: str, args: dict[str, object] | None = None, command_id: str = ""
) -> messages.Command:
    return messages.Command(
        command_id=command_id or f"cmd-{messages.new_id()[:8]}",
        name=name,
        args=args or {},
        ts=now_ms(),
        expires_at=now_ms() + 60_000,
    )


def test_online_status_then_offline_on_a_clean_stop(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    with running_kiosk(config):
        assert fake_server.wait_for(
            lambda s: any(st.gate == gate_id and st.state == "online" for st in s.statuses), 10
        )
        online = retained_status(mqtt_url, gate_id)
        assert online is not None and online.state == "online"
        assert (online.mode, online.outbox_depth, online.allowlist_version) == ("normal", 0, 0)
        assert online.software.startswith("admit-kiosk")
    offline = retained_status(mqtt_url, gate_id)
    assert offline is not None and offline.state == "offline"


def test_the_last_will_says_lost_when_the_kiosk_is_killed(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id, keepalive=5)
    process = start_kiosk_process(config, tmp_path / "kiosk.log")
    try:
        assert fake_server.wait_for(
            lambda s: any(st.gate == gate_id and st.state == "online" for st in s.statuses), 20
        ), (tmp_path / "kiosk.log").read_text()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # the socket dies with the process, so the broker sends the will at once (a dead network
    # would take 1.5 keep-alives)
    assert fake_server.wait_for(
        lambda s: any(st.gate == gate_id and st.state == "lost" for st in s.statuses), 15
    )
    lost = retained_status(mqtt_url, gate_id)
    assert lost is not None and lost.state == "lost"


def test_sigterm_publishes_offline_and_exits_cleanly(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    process = start_kiosk_process(config, tmp_path / "kiosk.log")
    assert fake_server.wait_for(
        lambda s: any(st.gate == gate_id and st.state == "online" for st in s.statuses), 20
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert fake_server.wait_for(
        lambda s: any(st.gate == gate_id and st.state == "offline" for st in s.statuses), 10
    )


def test_commands_are_answered_and_a_malformed_one_does_not_stop_the_link(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    commands_topic = fake_server.topics.commands(gate_id)
    with running_kiosk(config) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        fake_server.publish_raw(
            commands_topic,
            b'{"v":1,"kind":"command","id":"x1","ts":1,"command_id":"bad-1","name":"explode","args":{}}',
        )
        fake_server.publish_raw(commands_topic, b"\xff\xfe not even utf-8")
        fake_server.command(gate_id, command("lock", command_id="lock-1"))
        fake_server.command(gate_id, command("audit", {"list": "allowlist"}, command_id="audit-1"))
        assert fake_server.wait_for(lambda s: len(s.results) >= 3, 10), fake_server.results
        results = {result.command_id: result for result in fake_server.results}
        assert (results["bad-1"].ok, results["bad-1"].error) == (False, messages.BAD_FIELD)
        assert results["lock-1"].ok and results["lock-1"].detail["mode"] == "locked"
        assert results["audit-1"].detail["version"] == 0
        assert kiosk.modes.mode == "locked"
        assert fake_server.wait_for(
            lambda s: any(st.gate == gate_id and st.mode == "locked" for st in s.statuses), 10
        )
        assert kiosk.worker.counts["malformed"] == 2
        assert len(fake_server.results) == 3  # the unreadable one could not be answered


def test_a_forged_ack_for_this_gate_deletes_nothing(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    fake_server.ack = False
    with running_kiosk(config) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        kiosk.handle_text("not a ticket")
        assert fake_server.wait_for(lambda s: len(s.scans) == 1, 10)
        scan_id = next(iter(fake_server.scans))
        forged = messages.ScanAck(gate="some-other-gate", scan_ids=[scan_id], watermark=9, ts=1)
        fake_server.publish_raw(fake_server.topics.acks(gate_id), messages.encode(forged))
        fake_server.command(gate_id, command("audit", {"list": "revocations"}))
        assert fake_server.wait_for(lambda s: len(s.results) == 1, 10)
        assert kiosk.worker.counts["malformed"] == 1
        with KioskStore(config.store_path) as store:
            assert store.outbox_depth() == 1


def test_peer_admissions_go_into_the_ledger(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    peer = "peer-" + gate_id
    admission = messages.Admission(
        gate=peer, ticket_key="t:4242", direction="in", at=now_ms(), entries_used=1, ts=now_ms()
    )
    with running_kiosk(config) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        fake_server.publish_raw(fake_server.topics.admissions(peer), messages.encode(admission))
        fake_server.command(gate_id, command("audit", {"list": "allowlist"}))
        assert fake_server.wait_for(lambda s: len(s.results) == 1, 10)
        assert [(e.gate, e.source) for e in kiosk.scan_store.admissions("t:4242")] == [
            (peer, "gossip")
        ]


def _staff(seq: int, prev: int, ticket: int) -> bytes:
    admission = messages.Admission(
        gate=topics.STAFF_GATE,
        ticket_key=f"t:{ticket}",
        direction="in",
        at=1748771999750 + ticket,  # the check-in's time: the same in a resend
        entries_used=1,
        ts=now_ms(),
        seq=seq,
        prev=prev,
    )
    return messages.encode(admission)


def test_staff_admissions_a_hole_in_their_chain_and_the_resend_that_fills_it(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    """Live staff admissions move the status's ``staff_seq``; one after a hole is recorded (it
    counts at once) but leaves ``staff_seq`` and asks for a status; the server's resend on the
    gate's own lists topic fills the hole and the next status says so."""
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)

    def statuses(server: FakeServer) -> list[messages.Status]:
        return [status for status in server.statuses if status.gate == gate_id]

    with running_kiosk(config) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        assert fake_server.wait_for(lambda s: statuses(s) != [], 10)
        assert statuses(fake_server)[-1].staff_seq == 0
        live = fake_server.topics.admissions(topics.STAFF_GATE)
        fake_server.publish_raw(live, _staff(10, 0, ticket=1))
        fake_server.publish_raw(live, _staff(20, 10, ticket=2))
        assert fake_server.wait_for(lambda s: statuses(s)[-1].staff_seq == 20, 10)

        before = len(statuses(fake_server))
        fake_server.publish_raw(live, _staff(40, 30, ticket=4))  # 30 never came
        assert fake_server.wait_for(lambda s: len(statuses(s)) > before, 10)
        assert statuses(fake_server)[-1].staff_seq == 20
        assert kiosk.worker.counts["staff_gaps"] == 1
        assert [e.gate for e in kiosk.scan_store.admissions("t:4")] == [topics.STAFF_GATE]

        own = fake_server.topics.lists(gate_id)
        fake_server.publish_raw(own, _staff(30, 20, ticket=3))
        fake_server.publish_raw(own, _staff(40, 30, ticket=4))
        assert fake_server.wait_for(lambda s: statuses(s)[-1].staff_seq == 40, 10)
        assert kiosk.worker.counts["staff_resent"] == 2
        assert len(kiosk.scan_store.admissions("t:4")) == 1
        with KioskStore(config.store_path) as store:
            assert store.staff_seq() == 40

        # only the server's _staff may come on the gate's own lists topic
        peer = messages.Admission(
            gate="peer-1", ticket_key="t:5", direction="in", at=1, entries_used=1, ts=1
        )
        fake_server.publish_raw(own, messages.encode(peer))
        fake_server.command(gate_id, command("audit", {"list": "allowlist"}))
        assert fake_server.wait_for(lambda s: len(s.results) == 1, 10)
        assert kiosk.worker.counts["malformed"] == 1
        assert kiosk.scan_store.admissions("t:5") == []


def test_classify_checks_topic_site_and_gate(tmp_path: Path) -> None:
    link = MqttLink(MqttConfig(url="mqtt://127.0.0.1:1", client_id="c"), SITE, "g1", lambda e: None)
    acks = link.topics.acks("g1")
    good = messages.encode(messages.ScanAck(gate="g1", scan_ids=[], watermark=3, ts=1))
    assert isinstance(link.classify(acks, good), Received)
    wrong_gate = messages.encode(messages.ScanAck(gate="g2", scan_ids=[], watermark=3, ts=1))
    assert isinstance(link.classify(acks, wrong_gate), Malformed)
    other_site = topics.Topics("elsewhere").acks("g1")
    assert isinstance(link.classify(other_site, good), Malformed)
    wrong_kind = link.classify(link.topics.commands("g1"), good)
    assert isinstance(wrong_kind, Malformed)
    assert isinstance(link.classify("random/topic", good), Malformed)
    assert link.malformed_count == 4


def test_an_announce_of_newer_lists_republishes_the_status(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    same = "0" * 64
    with running_kiosk(config) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        assert fake_server.wait_for(lambda s: any(st.gate == gate_id for st in s.statuses), 10)
        before = sum(st.gate == gate_id for st in fake_server.statuses)
        for version in (0, 42):  # the first matches what the kiosk holds, the second does not
            announce = messages.ListAnnounce(
                site=SITE,
                allowlist_version=version,
                allowlist_digest=same,
                revocations_version=0,
                revocations_digest=same,
                ts=now_ms(),
            )
            fake_server.publish_raw(fake_server.topics.list_announce(), messages.encode(announce))
        assert fake_server.wait_for(
            lambda s: sum(st.gate == gate_id for st in s.statuses) == before + 1, 10
        )
        assert kiosk.worker.counts["lists_behind"] == 1


@given(
    topic=st.one_of(
        st.text(max_size=60),
        st.sampled_from([f"admit/v1/{SITE}/gates/g1/{kind}" for kind in topics.GATE_KINDS]),
    ),
    payload=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda body: json.dumps(body).encode(),
            st.dictionaries(
                st.sampled_from(["v", "kind", "id", "ts", "gate", "command_id", "name", "args"]),
                st.one_of(st.integers(), st.text(max_size=10), st.none(), st.booleans()),
            ),
        ),
    ),
)
def test_classify_never_raises(topic: str, payload: bytes) -> None:
    link = MqttLink(MqttConfig(url="mqtt://127.0.0.1:1", client_id="c"), SITE, "g1", lambda e: None)
    assert isinstance(link.classify(topic, payload), Received | Malformed)


def test_a_snapshot_takes_the_list_back_only_to_the_announced_head(
    mqtt_url: str, signing_key: SigningKey, tmp_path: Path, gate_id: str, fake_server: FakeServer
) -> None:
    """The server's database was restored: the site announces allowlist version 2 while the
    gate holds version 5. A version-2 snapshot on the gate's own lists topic replaces the list
    then, and not before (a stale snapshot is a duplicate)."""
    config = write_config(tmp_path, mqtt_url, signing_key, gate=gate_id)
    ahead = sorted(f"{n:032x}" for n in range(5))
    restored = sorted(f"{n:032x}" for n in range(100, 103))
    digest = ListDigest.of(restored).hex()

    def snapshot() -> bytes:
        return messages.encode(
            messages.ListUpdate(
                list="allowlist",
                site=SITE,
                scope=None,
                snapshot=True,
                from_version=0,
                to_version=2,
                add=restored,
                remove=[],
                digest=digest,
                chunk=0,
                chunks=1,
                meta=None,
                ts=now_ms(),
            )
        )

    def held() -> tuple[int, str]:
        with KioskStore(config.store_path) as store:
            version = store.list_version("allowlist")
            return version.version, version.digest

    with KioskStore(config.store_path) as store:
        seeded = messages.ListUpdate(
            list="allowlist",
            site=SITE,
            scope=None,
            snapshot=True,
            from_version=0,
            to_version=5,
            add=ahead,
            remove=[],
            digest=ListDigest.of(ahead).hex(),
            chunk=0,
            chunks=1,
            meta=None,
            ts=now_ms(),
        )
        assert lists.apply_update(store, seeded).ok
    with running_kiosk(config) as kiosk:
        assert kiosk.worker is not None and kiosk.worker.link.wait_connected(10)
        gate_lists = fake_server.topics.lists(gate_id)
        fake_server.publish_raw(gate_lists, snapshot())  # no announce yet: stale
        assert fake_server.wait_for(lambda s: len(s.results) >= 1, 10)
        assert held()[0] == 5
        announce = messages.ListAnnounce(
            site=SITE,
            allowlist_version=2,
            allowlist_digest=digest,
            revocations_version=0,
            revocations_digest=ListDigest().hex(),
            ts=now_ms(),
        )
        fake_server.publish_raw(fake_server.topics.list_announce(), messages.encode(announce))
        fake_server.publish_raw(gate_lists, snapshot())
        assert fake_server.wait_for(lambda s: len(s.results) >= 2, 10)
        assert held() == (2, digest)


def test_only_the_servers_messages_set_the_gate_clock() -> None:
    """Acks, commands, list updates and announces, and ``_staff`` admissions carry the server's
    time; a peer gate's admission carries a clock that may be as wrong as ours."""
    ts = 1_790_000_000_000
    ack = messages.ScanAck(gate="gate-1", scan_ids=["s1"], watermark=0, ts=ts)
    staff = messages.Admission(
        gate=topics.STAFF_GATE, ticket_key="t:1", direction="in", at=ts, entries_used=1, ts=ts
    )
    peer = messages.Admission(
        gate="gate-2", ticket_key="t:1", direction="in", at=ts, entries_used=1, ts=ts
    )
    status = messages.Status(
        gate="gate-2",
        state="online",
        mode="normal",
        allowlist_version=1,
        revocations_version=1,
        outbox_depth=0,
        software="admit-kiosk",
        since=ts,
        ts=ts,
    )
    assert server_time_of(ack) == ts
    assert server_time_of(staff) == ts
    assert server_time_of(peer) is None
    assert server_time_of(status) is None
