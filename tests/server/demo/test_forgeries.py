"""Forgeries fail at the gate for the reason the demo announces, whatever the random choices."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import reasons
from protocol.credential import TicketClaims
from protocol.reasons import Rejection
from protocol.signing import Keyring, SigningKey, sign_ticket, verify_ticket
from server.demo.forgeries import (
    ForgeryError,
    one_character_changed,
    signed_by_stranger,
    untrusted_key_id,
)

KEY = SigningKey.from_seed(3, bytes(range(32)))
KEYRING = Keyring.from_dict({"3": KEY.public_key_text()})
GENUINE = sign_ticket(TicketClaims(4711, 17, 5, 0, 0, 1, 3), KEY)


def _reason(text: str) -> str:
    verdict = verify_ticket(text, KEYRING)
    return verdict.reason if isinstance(verdict, Rejection) else reasons.ADMITTED


def test_the_genuine_credential_verifies() -> None:
    assert _reason(GENUINE) == reasons.ADMITTED


def test_a_stranger_under_an_untrusted_key_id_is_an_unknown_key() -> None:
    key_id = untrusted_key_id(KEYRING)
    assert key_id not in KEYRING
    assert _reason(signed_by_stranger(GENUINE, key_id)) == reasons.UNKNOWN_KEY


def test_a_stranger_under_the_genuine_key_id_is_a_bad_signature() -> None:
    assert _reason(signed_by_stranger(GENUINE, 3)) == reasons.BAD_SIGNATURE


def test_retired_key_ids_are_not_offered_as_untrusted() -> None:
    keyring = Keyring.from_dict({"255": None, "3": KEY.public_key_text()})
    assert untrusted_key_id(keyring) == 254


@given(seed=st.integers(0, 2**32))
def test_one_changed_character_is_a_bad_signature(seed: int) -> None:
    forged = one_character_changed(GENUINE, KEYRING, random.Random(seed))
    assert len(forged) == len(GENUINE)
    assert sum(a != b for a, b in zip(forged, GENUINE, strict=True)) == 1
    assert _reason(forged) == reasons.BAD_SIGNATURE


def test_text_that_is_no_credential_is_refused() -> None:
    with pytest.raises(ForgeryError):
        one_character_changed("HELLO", KEYRING, random.Random(1))
    with pytest.raises(ForgeryError):
        signed_by_stranger("HELLO", 9)
