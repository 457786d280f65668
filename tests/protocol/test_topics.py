"""Topic building, validation, ACL and total parsing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import topics
from protocol.topics import TopicError, TopicRef, Topics

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=64)
roots = st.lists(ids, min_size=1, max_size=3).map("/".join)


def test_gate_topics_follow_the_tree() -> None:
    site = Topics("expo-hall")
    assert site.status("north-1") == "admit/v1/expo-hall/gates/north-1/status"
    assert site.scans("north-1") == "admit/v1/expo-hall/gates/north-1/scans"
    assert site.acks("north-1") == "admit/v1/expo-hall/gates/north-1/acks"
    assert site.admissions("north-1") == "admit/v1/expo-hall/gates/north-1/admissions"
    assert site.commands("north-1") == "admit/v1/expo-hall/gates/north-1/commands"
    assert site.command_results("north-1") == "admit/v1/expo-hall/gates/north-1/results"
    assert site.telemetry("north-1") == "admit/v1/expo-hall/gates/north-1/telemetry"
    assert site.lists("north-1") == "admit/v1/expo-hall/gates/north-1/lists"
    assert site.site_lists() == "admit/v1/expo-hall/lists"
    assert site.list_announce() == "admit/v1/expo-hall/lists/announce"
    assert site.all_gates(topics.ADMISSIONS) == "admit/v1/expo-hall/gates/+/admissions"


def test_custom_root() -> None:
    assert Topics("s", root="acme/admit").scans("g") == "acme/admit/v1/s/gates/g/scans"


def test_server_subscriptions() -> None:
    assert topics.fleet_subscription(topics.STATUS) == "admit/v1/+/gates/+/status"
    assert topics.shared_subscription("servers") == "$share/servers/admit/v1/+/gates/+/scans"
    assert (
        topics.shared_subscription("srv", topics.RESULTS, root="x")
        == "$share/srv/x/v1/+/gates/+/results"
    )


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "a#", "$SYS", "Upper", "x" * 65, "é", " a"])
def test_invalid_ids_are_refused(bad: str) -> None:
    assert not topics.is_valid_id(bad)
    with pytest.raises(TopicError):
        Topics(bad)
    with pytest.raises(TopicError):
        Topics("s").scans(bad)


@pytest.mark.parametrize("bad_root", ["", "a//b", "a/+", "#", "/admit", "admit/"])
def test_invalid_roots_are_refused(bad_root: str) -> None:
    with pytest.raises(TopicError):
        Topics("s", root=bad_root)


def test_unknown_kind_and_group_are_refused() -> None:
    with pytest.raises(TopicError):
        Topics("s").gate_topic("g", "secrets")
    with pytest.raises(TopicError):
        topics.shared_subscription("a/b")
    with pytest.raises(TopicError):
        topics.fleet_subscription(topics.SITE_LISTS)


def test_kiosk_acl_writes_only_its_own_topics() -> None:
    acl = topics.kiosk_acl("expo-hall", "north-1")
    writes = {topic for access, topic in acl if access == "write"}
    reads = {topic for access, topic in acl if access == "read"}
    assert writes == {"admit/v1/expo-hall/gates/north-1/" + kind for kind in topics.KIOSK_PUBLISHES}
    assert reads == set(Topics("expo-hall").kiosk_subscriptions("north-1"))
    assert "admit/v1/expo-hall/gates/+/admissions" in reads
    assert not any(topic.endswith(("/commands", "/acks", "/lists")) for topic in writes)


def test_every_kind_is_published_by_exactly_one_side() -> None:
    kiosk, server = set(topics.KIOSK_PUBLISHES), set(topics.SERVER_PUBLISHES)
    assert not kiosk & server
    assert kiosk | server == set(topics.GATE_KINDS) | set(topics.SITE_KINDS)


@given(site=ids, gate=ids, kind=st.sampled_from(topics.GATE_KINDS), root=roots)
def test_gate_topic_round_trip(site: str, gate: str, kind: str, root: str) -> None:
    topic = Topics(site, root).gate_topic(gate, kind)
    assert topics.parse_topic(topic, root) == TopicRef(site, gate, kind)


@given(site=ids, root=roots)
def test_site_topic_round_trip(site: str, root: str) -> None:
    built = Topics(site, root)
    assert topics.parse_topic(built.site_lists(), root) == TopicRef(site, None, topics.SITE_LISTS)
    assert topics.parse_topic(built.list_announce(), root) == TopicRef(
        site, None, topics.LIST_ANNOUNCE
    )


@pytest.mark.parametrize(
    "foreign",
    [
        "",
        "admit",
        "admit/v1",
        "admit/v1/",
        "admit/v1/s",
        "admit/v1/s/gates",
        "admit/v1/s/gates/g",
        "admit/v1/s/gates/+/scans",
        "admit/v1/+/gates/g/scans",
        "admit/v1/s/gates/g/#",
        "admit/v1/s/gates/g/scans/",
        "admit/v1/s/gates/g/nope",
        "admit/v1/s/lists/announce/x",
        "admit/v2/s/gates/g/scans",
        "zigbee2mqtt/bridge/state",
        "$share/servers/admit/v1/s/gates/g/scans",
    ],
)
def test_foreign_or_malformed_topics_parse_to_none(foreign: str) -> None:
    assert topics.parse_topic(foreign) is None


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50), st.none(), st.integers()))
def test_parse_topic_is_total(anything: object) -> None:
    ref = topics.parse_topic(anything)
    assert ref is None or isinstance(ref, TopicRef)


@given(st.lists(st.sampled_from(["admit", "v1", "s", "gates", "g", "scans", "lists", "+", ""])))
def test_parse_topic_on_near_misses(levels: list[str]) -> None:
    topic = "/".join(levels)
    ref = topics.parse_topic(topic)
    if ref is not None:
        rebuilt = Topics(ref.site)
        assert topic in (
            rebuilt.site_lists(),
            rebuilt.list_announce(),
            rebuilt.gate_topic(ref.gate, ref.kind) if ref.gate else "",
        )
