import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import base45, signing
from protocol.credential import ADMIT_EPOCH, TicketClaims, parse
from protocol.reasons import (
    ALL_REASONS,
    BAD_SIGNATURE,
    EXPIRED,
    UNKNOWN_KEY,
    Rejection,
)
from protocol.signing import (
    KeyFormatError,
    Keyring,
    SigningKey,
    VerifiedTicket,
    public_key_from_text,
    sign_ticket,
    verify_ticket,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "credential.json").read_text(encoding="utf-8")
)
FIELDS = ("ticket_id", "event_id", "zone", "valid_from", "valid_until", "entries", "key_id")
TEST_KEYS = {
    item["key_id"]: SigningKey.from_seed(item["key_id"], bytes.fromhex(item["seed_hex"]))
    for item in VECTORS["test_keys"]
}
KEYRING = Keyring.from_dict(VECTORS["keyring"])
DAY0 = 1767225600  # 2026-01-01T00:00Z


@pytest.fixture(scope="module", autouse=True, params=["libsodium", "openssl"])
def verify_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs with both Ed25519 implementations: their verdicts must agree."""
    backend = {
        "libsodium": signing.verify_with_libsodium,
        "openssl": signing.verify_with_openssl,
    }[request.param]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing, "_verify", backend)
        yield request.param


def test_libsodium_is_the_default_verifier_where_pynacl_is_installed() -> None:
    assert signing.VERIFY_BACKEND == "libsodium"


def claims_of(fields: dict[str, int]) -> TicketClaims:
    return TicketClaims(**{name: fields[name] for name in FIELDS})


def input_of(case: dict[str, Any]) -> str | bytes:
    return case["text"] if "text" in case else bytes.fromhex(case["text_hex"])


def test_test_keys_match_their_public_keys() -> None:
    for item in VECTORS["test_keys"]:
        assert TEST_KEYS[item["key_id"]].public_key_text() == item["public_key"]


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda case: case["name"])
def test_signing_the_vector_claims_reproduces_the_vector_text(case: dict[str, Any]) -> None:
    claims = claims_of(case["claims"])
    assert sign_ticket(claims, TEST_KEYS[claims.key_id]) == case["text"]
    assert verify_ticket(case["text"], KEYRING) == VerifiedTicket(claims)


@pytest.mark.parametrize("case", VECTORS["rejected"], ids=lambda case: case["name"])
def test_rejected_vectors(case: dict[str, Any]) -> None:
    result = verify_ticket(input_of(case), KEYRING, now=case.get("now"))
    assert isinstance(result, Rejection)
    assert result.reason == case["reason"]


def realistic_texts() -> list[str]:
    return [case["text"] for case in VECTORS["valid"] if "maximum" not in case["name"]][:3]


@pytest.mark.parametrize("text", realistic_texts())
def test_every_single_character_substitution_is_rejected(text: str) -> None:
    """Exhaustive: each position x each other base45 character (and a few outside it)."""
    accepted = []
    for position in range(len(text)):
        for char in base45.ALPHABET + "a#\x00\u4e2d":
            if char == text[position]:
                continue
            changed = text[:position] + char + text[position + 1 :]
            if not isinstance(verify_ticket(changed, KEYRING), Rejection):
                accepted.append(changed)
    assert accepted == []


@pytest.mark.parametrize("text", realistic_texts())
def test_every_single_character_deletion_and_insertion_is_rejected(text: str) -> None:
    for position in range(len(text)):
        deleted = text[:position] + text[position + 1 :]
        assert isinstance(verify_ticket(deleted, KEYRING), Rejection)
        for char in "0A :":
            inserted = text[:position] + char + text[position:]
            assert isinstance(verify_ticket(inserted, KEYRING), Rejection)


@st.composite
def signed_texts(draw: st.DrawFn) -> str:
    key_id = draw(st.sampled_from([1, 2, 50]))
    claims = TicketClaims(
        ticket_id=draw(st.integers(min_value=0, max_value=2**40)),
        event_id=draw(st.integers(min_value=0, max_value=10**6)),
        zone=draw(st.integers(min_value=0, max_value=300)),
        valid_from=draw(st.sampled_from([0, DAY0])),
        valid_until=draw(st.sampled_from([0, DAY0 + 86400])),
        entries=draw(st.integers(min_value=0, max_value=5)),
        key_id=key_id,
    )
    return sign_ticket(claims, TEST_KEYS[key_id])


@settings(max_examples=300)
@given(signed_texts(), st.data())
def test_any_single_character_change_is_rejected(text: str, data: st.DataObject) -> None:
    assert isinstance(verify_ticket(text, KEYRING), VerifiedTicket)
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    char = data.draw(st.characters().filter(lambda c: c != text[position]))
    changed = text[:position] + char + text[position + 1 :]
    assert isinstance(verify_ticket(changed, KEYRING), Rejection)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), st.none(), st.integers()))
def test_verify_is_total(junk: object) -> None:
    result = verify_ticket(junk, KEYRING, now=DAY0)
    assert isinstance(result, Rejection)
    assert result.reason in ALL_REASONS


def test_window_is_judged_only_when_now_is_given() -> None:
    text = VECTORS["valid"][0]["text"]
    claims = claims_of(VECTORS["valid"][0]["claims"])
    assert verify_ticket(text, KEYRING) == VerifiedTicket(claims)
    assert verify_ticket(text, KEYRING, now=DAY0 + 3600) == VerifiedTicket(claims)
    assert verify_ticket(text, KEYRING, now=DAY0 + 86400) == Rejection(
        EXPIRED, f"valid until {DAY0 + 86400}"
    )


def test_forgery_is_reported_as_bad_signature_even_when_expired() -> None:
    claims = TicketClaims(1, 2, 0, DAY0, DAY0 + 60, 1, key_id=1)
    forged = sign_ticket(claims, SigningKey.generate(1))
    result = verify_ticket(forged, KEYRING, now=DAY0 + 10**6)
    assert isinstance(result, Rejection)
    assert result.reason == BAD_SIGNATURE


def test_signing_with_a_key_other_than_the_claimed_one_is_refused() -> None:
    with pytest.raises(ValueError, match="claims name key 2"):
        sign_ticket(TicketClaims(1, 2, key_id=2), TEST_KEYS[1])


def test_rotation_two_keys_valid_at_once_then_the_old_one_retired() -> None:
    old, new = SigningKey.generate(7), SigningKey.generate(8)
    keyring = Keyring()
    keyring.add(old.key_id, old.public_key_text())
    old_ticket = sign_ticket(TicketClaims(1, 2, key_id=7), old)
    keyring.add(new.key_id, new.public_key())
    new_ticket = sign_ticket(TicketClaims(3, 2, key_id=8), new)
    assert isinstance(verify_ticket(old_ticket, keyring), VerifiedTicket)
    assert isinstance(verify_ticket(new_ticket, keyring), VerifiedTicket)
    keyring.retire(7)
    assert verify_ticket(old_ticket, keyring) == Rejection(UNKNOWN_KEY, "key 7 was retired")
    assert isinstance(verify_ticket(new_ticket, keyring), VerifiedTicket)
    assert keyring.to_dict() == {"7": None, "8": new.public_key_text()}
    keyring.remove(7)
    assert verify_ticket(old_ticket, keyring) == Rejection(UNKNOWN_KEY, "key 7 is not trusted")


def test_keyring_dict_round_trip() -> None:
    assert Keyring.from_dict(KEYRING.to_dict()).to_dict() == VECTORS["keyring"]
    assert list(KEYRING) == [1, 2, 50]
    assert len(KEYRING) == 3
    assert 3 not in KEYRING and KEYRING.is_retired(3)
    assert Keyring.from_dict({1: TEST_KEYS[1].public_key_text()}).to_dict() == {
        "1": TEST_KEYS[1].public_key_text()
    }


def test_keyring_refuses_to_replace_a_key_silently() -> None:
    keyring = Keyring.from_dict({"1": TEST_KEYS[1].public_key_text()})
    keyring.add(1, TEST_KEYS[1].public_key_text())
    with pytest.raises(KeyFormatError, match="different public key"):
        keyring.add(1, TEST_KEYS[2].public_key_text())
    keyring.retire(1)
    keyring.add(1, TEST_KEYS[2].public_key_text())
    assert not keyring.is_retired(1)


@pytest.mark.parametrize(
    "entries",
    [
        {"256": "tAlyVoigQtA4So/4INF93lIhdP8UFR1MbASh30ou2R8="},
        {"-1": "tAlyVoigQtA4So/4INF93lIhdP8UFR1MbASh30ou2R8="},
        {"one": "tAlyVoigQtA4So/4INF93lIhdP8UFR1MbASh30ou2R8="},
        {"1": "not base64!"},
        {"1": "AAAA"},
        {"1": 5},
        ["1"],
    ],
)
def test_bad_keyrings_raise_key_format_error(entries: Any) -> None:
    with pytest.raises(KeyFormatError):
        Keyring.from_dict(entries)


def test_private_key_text_round_trip_and_refusals() -> None:
    key = SigningKey.generate(9)
    again = SigningKey.from_text(key.to_text() + "\n")
    assert again.key_id == 9
    assert again.public_key_text() == key.public_key_text()
    assert key.to_text().split(":")[2] not in repr(key)
    for bad in ("", "ssh-ed25519 AAAA", "admit-ticket-key-v1:9:AAAA", "admit-ticket-key-v1:x:AA=="):
        with pytest.raises(KeyFormatError):
            SigningKey.from_text(bad)
    with pytest.raises(KeyFormatError):
        SigningKey(256, Ed25519PrivateKey.generate())


def test_public_key_text_is_base64_of_32_raw_bytes() -> None:
    text = TEST_KEYS[1].public_key_text()
    assert len(text) == 44
    assert public_key_from_text(text) is not None
    with pytest.raises(KeyFormatError):
        public_key_from_text(text[:-4])


def test_a_verified_ticket_names_the_parsed_claims() -> None:
    text = VECTORS["valid"][0]["text"]
    parsed = parse(text)
    verified = verify_ticket(text, KEYRING)
    assert isinstance(verified, VerifiedTicket)
    assert not isinstance(parsed, Rejection)
    assert verified.claims == parsed.claims
    assert verified.claims.valid_from > ADMIT_EPOCH
