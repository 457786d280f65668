import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import base45

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "credential.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", VECTORS["base45"], ids=lambda case: case["text"] or "empty")
def test_vectors_encode_and_decode(case: dict[str, str]) -> None:
    data = bytes.fromhex(case["bytes_hex"])
    assert base45.encode(data) == case["text"]
    assert base45.decode(case["text"]) == data


def test_rfc_9285_examples() -> None:
    assert base45.encode(b"AB") == "BB8"
    assert base45.encode(b"Hello!!") == "%69 VD92EX0"
    assert base45.encode(b"base-45") == "UJCLQE7W581"
    assert base45.decode("QED8WEX0") == b"ietf!"


@pytest.mark.parametrize("case", VECTORS["bad_base45"], ids=lambda case: case["why"])
def test_invalid_text_raises_value_error(case: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        base45.decode(case["text"])


def test_largest_groups_are_accepted_and_one_more_is_not() -> None:
    assert base45.decode(base45.encode(b"\xff\xff")) == b"\xff\xff"
    assert base45.encode(b"\xff\xff") == "FGW"
    with pytest.raises(ValueError):
        base45.decode("GGW")
    assert base45.encode(b"\xff") == "U5"
    with pytest.raises(ValueError):
        base45.decode("V5")


@given(st.binary(max_size=200))
def test_round_trip(data: bytes) -> None:
    text = base45.encode(data)
    assert set(text) <= set(base45.ALPHABET)
    assert len(text) == len(data) // 2 * 3 + len(data) % 2 * 2
    assert base45.decode(text) == data


@given(st.text(alphabet=base45.ALPHABET + "abc#\r\n\u4e2d", max_size=60))
def test_every_accepted_text_is_the_canonical_encoding(text: str) -> None:
    try:
        data = base45.decode(text)
    except ValueError:
        return
    assert base45.encode(data) == text
