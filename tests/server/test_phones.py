"""Phone numbers normalise to E.164 with +86 as the default region."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import Invalid
from server.phones import mask_phone, normalize_phone


@pytest.mark.parametrize(
    "text",
    ["13800138000", "+86 138 0013 8000", "138-0013-8000", "+8613800138000", "0086 13800138000"],
)
def test_mainland_numbers_in_any_common_form(text: str) -> None:
    assert normalize_phone(text) == "+8613800138000"


def test_foreign_numbers_keep_their_country() -> None:
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("text", ["", "12345", "abc", "+86138001380001", "1380013800"])
def test_invalid_numbers_are_a_422(text: str) -> None:
    with pytest.raises(Invalid) as raised:
        normalize_phone(text)
    assert raised.value.code == "phone_invalid"
    assert raised.value.status_code == 422


@given(st.text(max_size=40))
def test_any_text_normalises_or_raises_invalid(text: str) -> None:
    try:
        result = normalize_phone(text)
    except Invalid:
        return
    assert result.startswith("+") and result[1:].isdigit()
    assert normalize_phone(result) == result


@given(st.integers(min_value=0, max_value=99_999_999))
def test_every_normalised_mainland_mobile_round_trips(suffix: int) -> None:
    e164 = normalize_phone(f"139{suffix:08d}")
    assert e164 == f"+86139{suffix:08d}"
    assert mask_phone(e164) == "+86139****" + e164[-4:]
