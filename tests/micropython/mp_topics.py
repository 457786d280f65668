# Runs under MicroPython (and CPython): topic building and total parsing. Run from the repository
# root with MICROPYPATH set to it; prints "OK" last when every check passed.
import json
import os

from protocol import messages, topics

GOLDEN = "tests/golden"

site = topics.Topics("expo-hall")
for gate in ("north-1", "south_2"):
    for kind in topics.GATE_KINDS:
        topic = site.gate_topic(gate, kind)
        assert topic == "admit/v1/expo-hall/gates/" + gate + "/" + kind, topic
        assert topics.parse_topic(topic) == topics.TopicRef("expo-hall", gate, kind), topic
assert topics.parse_topic(site.site_lists()) == topics.TopicRef("expo-hall", None, "site_lists")
assert topics.parse_topic(site.list_announce()) == topics.TopicRef("expo-hall", None, "announce")
assert site.command_results("g") == "admit/v1/expo-hall/gates/g/results"

custom = topics.Topics("s", root="acme/admit")
assert topics.parse_topic(custom.scans("g"), "acme/admit") == topics.TopicRef("s", "g", "scans")
assert topics.parse_topic(custom.scans("g")) is None

assert topics.shared_subscription("servers") == "$share/servers/admit/v1/+/gates/+/scans"
assert topics.fleet_subscription("status") == "admit/v1/+/gates/+/status"

for bad in (
    "",
    "admit",
    "admit/v1/expo-hall",
    "admit/v1/expo-hall/gates/+/scans",
    "admit/v1/expo-hall/gates/#",
    "admit/v1/expo-hall/gates/g/scans/extra",
    "admit/v1/expo-hall/gates/g/unknown",
    "admit/v2/expo-hall/gates/g/scans",
    "admit/v1/Expo/gates/g/scans",
    "other/v1/expo-hall/gates/g/scans",
    None,
    b"admit/v1/s/gates/g/scans",
):
    assert topics.parse_topic(bad) is None, bad

for bad_id in ("", "a/b", "a+b", "a#", "$sys", "A", "x" * 65, "é"):
    assert not topics.is_valid_id(bad_id), bad_id
    try:
        site.scans(bad_id)
    except topics.TopicError:
        pass
    else:
        raise AssertionError(bad_id)

# Every golden message belongs on a topic of its kind, with its gate or site.
for name in sorted(os.listdir(GOLDEN)):
    if not name.endswith(".json"):
        continue
    with open(GOLDEN + "/" + name) as handle:
        examples = json.loads(handle.read())
    for example in examples:
        message = messages.decode(json.dumps(example))
        gate = example.get("gate", "north-1")
        topic_site = topics.Topics(example.get("site", "expo-hall"))
        kind = message.TOPICS[0]
        if kind == topics.SITE_LISTS:
            topic = topic_site.site_lists()
        elif kind == topics.LIST_ANNOUNCE:
            topic = topic_site.list_announce()
        else:
            topic = topic_site.gate_topic(gate, kind)
        ref = topics.parse_topic(topic)
        assert messages.matches_topic(message, ref), name
        if "gate" in example or "site" in example:
            intruder = topics.TopicRef("x", "intruder", kind)
            assert not messages.matches_topic(message, intruder), name

print("OK")
