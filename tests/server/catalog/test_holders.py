"""Holder details against a ticket type's field config, and resident ID numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.catalog.holders import (
    CustomField,
    CustomFieldKind,
    HolderFieldConfig,
    Requirement,
    normalize_id_number,
    validate_holder,
)
from server.errors import Invalid

VALID_ID = "11010519491231002X"

ID_CONFIG = HolderFieldConfig(
    name=Requirement.REQUIRED,
    phone=Requirement.OPTIONAL,
    custom=[
        CustomField(key="id_number", label="ID", kind=CustomFieldKind.ID_NUMBER, required=True),
        CustomField(key="note", label="Note"),
    ],
)


def test_a_real_id_number_is_accepted_and_upper_cased() -> None:
    assert normalize_id_number(VALID_ID.lower()) == VALID_ID


def test_a_wrong_check_character_is_refused() -> None:
    assert normalize_id_number(VALID_ID[:-1] + "1") is None


def test_an_impossible_birth_date_is_refused() -> None:
    assert normalize_id_number("110105194913310021") is None


@given(st.text(max_size=30))
def test_normalize_id_number_never_raises_and_returns_18_characters(text: str) -> None:
    result = normalize_id_number(text)
    assert result is None or (len(result) == 18 and normalize_id_number(result) == result)


@given(st.integers(min_value=0, max_value=16), st.sampled_from("0123456789"))
def test_changing_one_digit_breaks_the_check(position: int, digit: str) -> None:
    changed = VALID_ID[:position] + digit + VALID_ID[position + 1 :]
    if changed != VALID_ID:
        assert normalize_id_number(changed) is None


def test_valid_details_come_back_cleaned() -> None:
    holder = validate_holder(
        ID_CONFIG,
        name="  Li Lei ",
        phone="138 0013 8000",
        fields={"id_number": VALID_ID.lower(), "note": " "},
    )
    assert holder.name == "Li Lei"
    assert holder.phone == "+8613800138000"
    assert holder.fields == {"id_number": VALID_ID}


@pytest.mark.parametrize(
    ("name", "phone", "fields", "code"),
    [
        (None, None, {"id_number": VALID_ID}, "catalog.holder_field_required"),
        ("Li", None, {}, "catalog.holder_field_required"),
        ("Li", None, {"id_number": "123"}, "catalog.holder_id_number_invalid"),
        ("Li", None, {"id_number": VALID_ID, "other": "x"}, "catalog.holder_field_unknown"),
        ("Li", "12345", {"id_number": VALID_ID}, "phone_invalid"),
        ("x" * 201, None, {"id_number": VALID_ID}, "catalog.holder_field_too_long"),
    ],
)
def test_bad_details_name_the_problem(
    name: str | None, phone: str | None, fields: dict[str, str], code: str
) -> None:
    with pytest.raises(Invalid) as raised:
        validate_holder(ID_CONFIG, name=name, phone=phone, fields=fields)
    assert raised.value.code == code


def test_hidden_fields_are_dropped() -> None:
    config = HolderFieldConfig(name=Requirement.HIDDEN, phone=Requirement.HIDDEN)
    holder = validate_holder(config, name="Li", phone="not a phone", fields=None)
    assert (holder.name, holder.phone, holder.fields) == (None, None, {})


@given(
    name=st.one_of(st.none(), st.text(max_size=250)),
    phone=st.one_of(st.none(), st.text(max_size=25)),
    fields=st.dictionaries(
        st.sampled_from(["id_number", "note", "zzz"]),
        st.one_of(st.text(max_size=30), st.integers(), st.none()),
        max_size=3,
    ),
)
def test_validate_holder_either_cleans_or_raises_invalid(
    name: str | None, phone: str | None, fields: dict[str, object]
) -> None:
    try:
        holder = validate_holder(ID_CONFIG, name=name, phone=phone, fields=fields)
    except Invalid:
        return
    assert holder.name is not None and holder.name == holder.name.strip()
    assert holder.phone is None or holder.phone.startswith("+")
    assert normalize_id_number(holder.fields["id_number"]) == holder.fields["id_number"]
    assert set(holder.fields) <= {"id_number", "note"}


def test_duplicate_custom_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        HolderFieldConfig(custom=[CustomField(key="a", label="A"), CustomField(key="a", label="B")])
