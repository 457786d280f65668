import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.allowlist import ListDigest, hash_code

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "allowlist.json").read_text(encoding="utf-8")
)

entry_sets = st.sets(st.text(max_size=20), max_size=30)


@pytest.mark.parametrize("case", VECTORS["hashes"], ids=lambda case: case["code"])
def test_hash_vectors(case: dict[str, str]) -> None:
    assert hash_code(case["code"], case["salt"]) == case["hash"]


def test_hash_is_32_hex_digits_and_depends_on_the_salt() -> None:
    first = hash_code("123456789018", "event-1")
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != hash_code("123456789018", "event-2")
    assert first != hash_code("123456789019", "event-1")


@pytest.mark.parametrize("case", VECTORS["digests"], ids=lambda case: str(len(case["entries"])))
def test_digest_vectors(case: dict[str, Any]) -> None:
    assert ListDigest.of(case["entries"]).hex() == case["hex"]


def test_delta_vector() -> None:
    delta = VECTORS["delta"]
    digest = ListDigest.from_hex(delta["hex_before"])
    for entry in delta["added"]:
        digest.add(entry)
    for entry in delta["removed"]:
        digest.remove(entry)
    assert digest.hex() == delta["hex_after"]


def test_empty_set_digest_is_zero() -> None:
    assert ListDigest().hex() == "0" * 64


@given(entry_sets, st.randoms())
def test_digest_is_order_independent(entries: set[str], random: Any) -> None:
    ordered = sorted(entries)
    shuffled = list(ordered)
    random.shuffle(shuffled)
    assert ListDigest.of(ordered) == ListDigest.of(shuffled)


@given(entry_sets, st.text(max_size=20))
def test_remove_undoes_add(entries: set[str], entry: str) -> None:
    digest = ListDigest.of(entries)
    before = digest.copy()
    digest.add(entry)
    assert digest != before
    digest.remove(entry)
    assert digest == before


@given(entry_sets, entry_sets, entry_sets)
def test_applying_a_delta_matches_the_digest_of_the_new_set(
    base: set[str], added: set[str], removed: set[str]
) -> None:
    added = added - base
    removed = removed & base
    digest = ListDigest.of(base)
    for entry in added:
        digest.add(entry)
    for entry in removed:
        digest.remove(entry)
    assert digest == ListDigest.of((base | added) - removed)


@given(entry_sets)
def test_hex_round_trip(entries: set[str]) -> None:
    digest = ListDigest.of(entries)
    assert len(digest.hex()) == 64
    assert ListDigest.from_hex(digest.hex()) == digest
    assert ListDigest.from_hex(digest.hex().upper()) == digest


@pytest.mark.parametrize(
    "text", ["", "0" * 63, "0" * 65, "g" * 64, "+" + "0" * 63, " " + "0" * 63, "0_" * 32]
)
def test_from_hex_refuses_anything_but_64_hex_digits(text: str) -> None:
    with pytest.raises(ValueError):
        ListDigest.from_hex(text)


@pytest.mark.parametrize("value", [-1, 2**256, True])
def test_digest_value_must_fit_256_bits(value: Any) -> None:
    with pytest.raises(ValueError):
        ListDigest(value)
