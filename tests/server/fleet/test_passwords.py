"""Mosquitto ``$7$`` hashes: round trip, and total parsing of whatever sits in the column."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.fleet.passwords import PasswordHashError, hash_password, new_password, verify_password


@given(st.text(max_size=40))
def test_a_hash_verifies_its_password_only(password: str) -> None:
    hashed = hash_password(password)

    assert hashed.startswith("$7$101$")
    assert verify_password(password, hashed)
    assert not verify_password(password + "x", hashed)


@given(st.text(max_size=120))
def test_any_text_is_a_hash_or_a_typed_error(text: str) -> None:
    with contextlib.suppress(PasswordHashError):
        assert isinstance(verify_password("pw", text), bool)


@pytest.mark.parametrize(
    "text", ["plain text", "$7$²$c2FsdA==$aGFzaA==", "$7$999999999$c2FsdA==$aGFzaA==", "$7$101$*$*"]
)
def test_non_hashes_are_refused(text: str) -> None:
    with pytest.raises(PasswordHashError):
        verify_password("pw", text)


def test_new_passwords_differ() -> None:
    assert new_password() != new_password()
