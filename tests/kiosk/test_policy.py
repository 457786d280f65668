"""The [policy] table: defaults, values and errors that name the key."""

from __future__ import annotations

import tomllib

import pytest

from kiosk.policy import GatePolicy, PolicyError

EXAMPLE = """
[policy]
events = [17, 18]
zones = [1]
direction = "both"
entries = 2
anti_passback = "soft"
reentry_after_exit = false
window_seconds = 600
offline_action = "admit_signed_only"
accept_codes = false
"""


def test_full_table() -> None:
    table = tomllib.loads(EXAMPLE)["policy"]
    policy = GatePolicy.from_toml(table, site="expo-hall", gate="north-1")
    assert policy == GatePolicy(
        gate_id="north-1",
        site="expo-hall",
        event_ids=frozenset({17, 18}),
        zones=frozenset({1}),
        direction="both",
        max_entries=2,
        anti_passback="soft",
        reentry_after_exit=False,
        window_seconds=600,
        offline_action="admit_signed_only",
        accept_codes=False,
    )


def test_defaults() -> None:
    policy = GatePolicy.from_toml({}, site="expo-hall", gate="north-1")
    assert (policy.direction, policy.max_entries, policy.anti_passback) == ("in", None, "off")
    assert (policy.offline_action, policy.accept_codes, policy.event_ids) == (
        "admit",
        True,
        frozenset(),
    )
    assert GatePolicy.from_toml({"entries": "ticket"}, site="s", gate="g").max_entries is None


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"direction": "sideways"}, "policy.direction"),
        ({"entries": -1}, "policy.entries"),
        ({"entries": "many"}, "policy.entries"),
        ({"anti_passback": True}, "policy.anti_passback"),
        ({"window_seconds": 1.5}, "policy.window_seconds"),
        ({"offline_action": "maybe"}, "policy.offline_action"),
        ({"accept_codes": "yes"}, "policy.accept_codes"),
        ({"events": 17}, "policy.events"),
        ({"zones": ["a"]}, "policy.zones"),
        ({"windows_seconds": 5}, "policy.windows_seconds"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        GatePolicy.from_toml(table, site="expo-hall", gate="north-1")


def test_bad_ids() -> None:
    with pytest.raises(PolicyError, match="gate id"):
        GatePolicy.from_toml({}, site="expo-hall", gate="North/1")
