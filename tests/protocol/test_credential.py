import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import base45, credential
from protocol.credential import (
    ADMIT_EPOCH,
    MAX_FIELD_VALUE,
    MAX_TEXT_LENGTH,
    ParsedCredential,
    TicketClaims,
    check_window,
    decode_payload,
    decode_varint,
    encode_payload,
    encode_varint,
    pack,
    parse,
)
from protocol.reasons import (
    ALL_REASONS,
    EXPIRED,
    MALFORMED,
    NOT_YET_VALID,
    TOO_LONG,
    UNSUPPORTED_VERSION,
    Rejection,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "credential.json").read_text(encoding="utf-8")
)
FIELDS = ("ticket_id", "event_id", "zone", "valid_from", "valid_until", "entries", "key_id")
DAY0 = 1767225600  # 2026-01-01T00:00Z
SIGNATURE = bytes(range(64))


def claims_of(fields: dict[str, int]) -> TicketClaims:
    return TicketClaims(**{name: fields[name] for name in FIELDS})


def reason_of(result: object) -> str:
    assert isinstance(result, Rejection), result
    return result.reason


def input_of(case: dict[str, Any]) -> str | bytes:
    return case["text"] if "text" in case else bytes.fromhex(case["text_hex"])


field_values = st.integers(min_value=0, max_value=MAX_FIELD_VALUE)
minutes = st.integers(min_value=1, max_value=MAX_FIELD_VALUE)


@st.composite
def valid_claims(draw: st.DrawFn) -> TicketClaims:
    from_minutes = draw(st.one_of(st.just(0), minutes))
    valid_from = ADMIT_EPOCH + from_minutes * 60 if from_minutes else 0
    duration = draw(st.one_of(st.just(0), minutes))
    base = valid_from or ADMIT_EPOCH
    return TicketClaims(
        ticket_id=draw(field_values),
        event_id=draw(field_values),
        zone=draw(field_values),
        valid_from=valid_from,
        valid_until=base + duration * 60 if duration else 0,
        entries=draw(field_values),
        key_id=draw(st.integers(min_value=0, max_value=255)),
    )


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda case: case["name"])
def test_valid_vectors(case: dict[str, Any]) -> None:
    claims = claims_of(case["claims"])
    payload = bytes.fromhex(case["payload_hex"])
    signature = bytes.fromhex(case["signature_hex"])
    assert encode_payload(claims) == payload
    assert decode_payload(payload) == claims
    assert pack(payload, signature) == case["text"]
    assert parse(case["text"]) == ParsedCredential(claims, payload, signature)


@pytest.mark.parametrize("case", VECTORS["accepted_variants"], ids=lambda case: case["name"])
def test_scanner_variants_parse_like_the_plain_text(case: dict[str, Any]) -> None:
    assert parse(input_of(case)) == parse(case["same_as"])


@pytest.mark.parametrize(
    "case",
    [case for case in VECTORS["rejected"] if case["stage"] == "parse"],
    ids=lambda case: case["name"],
)
def test_rejected_vectors(case: dict[str, Any]) -> None:
    result = parse(input_of(case))
    assert isinstance(result, Rejection)
    assert result.reason == case["reason"]


def test_realistic_credential_length() -> None:
    claims = TicketClaims(10**7, 10**4, 2, DAY0, DAY0 + 86400, 1, 1)
    assert len(encode_payload(claims)) == 15
    assert len(pack(encode_payload(claims), SIGNATURE)) == 119


def test_longest_credential_fits_under_the_length_cap() -> None:
    longest = next(case for case in VECTORS["valid"] if "maximum" in case["name"])
    assert longest["length"] == 180 <= MAX_TEXT_LENGTH


def test_leading_space_is_part_of_the_text_not_trimmed() -> None:
    claims = TicketClaims(4242, 7, 1, DAY0, 0, 3, key_id=50)
    text = pack(encode_payload(claims), SIGNATURE)
    assert text.startswith(" ")
    parsed = parse(text + "\r\n")
    assert isinstance(parsed, ParsedCredential)
    assert parsed.claims == claims
    assert isinstance(parse(text.lstrip(" ")), Rejection)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 300, 2**32, 2**56, MAX_FIELD_VALUE])
def test_varint_boundaries(value: int) -> None:
    encoded = encode_varint(value)
    assert len(encoded) == max(1, (value.bit_length() + 6) // 7)
    assert decode_varint(b"\xaa" + encoded + b"\xbb", 1) == (value, 1 + len(encoded))


@pytest.mark.parametrize("value", [-1, MAX_FIELD_VALUE + 1, True, 1.0])
def test_varint_rejects_values_it_cannot_encode(value: Any) -> None:
    with pytest.raises(ValueError):
        encode_varint(value)


@pytest.mark.parametrize("case", VECTORS["bad_varints"], ids=lambda case: case["why"])
def test_bad_varints(case: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        decode_varint(bytes.fromhex(case["hex"]), 0)


@given(field_values)
def test_varint_round_trip(value: int) -> None:
    assert decode_varint(encode_varint(value), 0) == (value, len(encode_varint(value)))


@given(st.binary(max_size=12))
def test_each_value_has_exactly_one_varint(data: bytes) -> None:
    try:
        value, end = decode_varint(data, 0)
    except ValueError:
        return
    assert encode_varint(value) == data[:end]


@given(valid_claims())
def test_claims_round_trip_through_text(claims: TicketClaims) -> None:
    payload = encode_payload(claims)
    assert decode_payload(payload) == claims
    parsed = parse(pack(payload, SIGNATURE))
    assert parsed == ParsedCredential(claims, payload, SIGNATURE)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ticket_id": -1}, "ticket_id"),
        ({"event_id": MAX_FIELD_VALUE + 1}, "event_id"),
        ({"zone": True}, "zone"),
        ({"entries": 1.5}, "entries"),
        ({"key_id": 256}, "key_id"),
        ({"valid_from": DAY0 + 30}, "whole minute"),
        ({"valid_from": ADMIT_EPOCH}, "no lower bound"),
        ({"valid_from": 1000}, "no lower bound"),
        ({"valid_until": DAY0}, "after valid_from"),
        ({"valid_until": DAY0 + 90}, "whole minute"),
        ({"valid_from": 0, "valid_until": ADMIT_EPOCH}, "after valid_from"),
        ({"valid_until": -60}, "non-negative"),
    ],
)
def test_encode_rejects_claims_it_cannot_represent(change: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "ticket_id": 1,
        "event_id": 2,
        "zone": 0,
        "valid_from": DAY0,
        "valid_until": DAY0 + 3600,
        "entries": 1,
        "key_id": 1,
    }
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        encode_payload(TicketClaims(**fields))


def test_open_window_without_lower_bound_counts_from_the_admit_epoch() -> None:
    claims = TicketClaims(1, 2, valid_until=ADMIT_EPOCH + 60, key_id=1)
    assert decode_payload(encode_payload(claims)) == claims
    assert encode_payload(claims).endswith(b"\x00\x01\x00")


def test_version_is_checked_before_length() -> None:
    assert parse(base45.encode(b"\x02")) == Rejection(UNSUPPORTED_VERSION, "format version 2")
    assert reason_of(parse(base45.encode(b"\x01\x01"))) == MALFORMED


def test_too_long_is_judged_before_trimming_or_decoding() -> None:
    assert reason_of(parse("\n" * (MAX_TEXT_LENGTH + 1))) == TOO_LONG
    assert reason_of(parse(b"\xff" * 10_000_000)) == TOO_LONG
    assert reason_of(parse("A" * MAX_TEXT_LENGTH)) == MALFORMED


@pytest.mark.parametrize("junk", [None, 42, 1.5, [], {}, object(), b"", "", "   ", "\x00"])
def test_non_credentials_are_malformed(junk: object) -> None:
    result = parse(junk)
    assert isinstance(result, Rejection)
    assert result.reason == MALFORMED


@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_parse_is_total(junk: str | bytes) -> None:
    result = parse(junk)
    assert isinstance(result, ParsedCredential | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in ALL_REASONS


@given(st.text(alphabet=base45.ALPHABET, min_size=100, max_size=200))
def test_whatever_parses_is_exactly_its_canonical_text(text: str) -> None:
    result = parse(text)
    if isinstance(result, ParsedCredential):
        assert pack(result.payload, result.signature) == text
        assert encode_payload(result.claims) == result.payload
    else:
        assert result.reason in (MALFORMED, UNSUPPORTED_VERSION)


def test_window_is_half_open() -> None:
    claims = TicketClaims(1, 2, 0, DAY0, DAY0 + 3600, 1, 1)
    assert check_window(claims, DAY0 - 1) == Rejection(NOT_YET_VALID, f"valid from {DAY0}")
    assert check_window(claims, DAY0) is None
    assert check_window(claims, DAY0 + 3599.9) is None
    assert check_window(claims, DAY0 + 3600) == Rejection(EXPIRED, f"valid until {DAY0 + 3600}")


def test_unbounded_window_is_always_open() -> None:
    claims = TicketClaims(1, 2)
    assert check_window(claims, 0) is None
    assert check_window(claims, 10**12) is None


def test_pack_rejects_a_signature_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        pack(b"\x01\x01" + bytes(6), bytes(63))


def test_claims_equality_and_repr() -> None:
    claims = TicketClaims(1, 2, 3, DAY0, 0, 4, 5)
    assert claims == TicketClaims(1, 2, 3, DAY0, 0, 4, 5)
    assert claims != TicketClaims(1, 2, 3, DAY0, 0, 4, 6)
    assert hash(claims) == hash(TicketClaims(1, 2, 3, DAY0, 0, 4, 5))
    assert "ticket_id=1" in repr(claims) and "key_id=5" in repr(claims)
    assert credential.FORMAT_VERSION == 1
