import json
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import codes
from protocol.codes import (
    CODE_SPACE,
    check_digit,
    format_code,
    is_valid,
    new_code,
    normalize,
    random_code,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "codes.json").read_text(encoding="utf-8")
)
DAMM = codes._DAMM

numbers = st.integers(min_value=0, max_value=CODE_SPACE - 1)


@pytest.mark.parametrize("case", VECTORS["codes"], ids=lambda case: str(case["number"]))
def test_code_vectors(case: dict[str, Any]) -> None:
    assert new_code(case["number"]) == case["code"]
    assert is_valid(case["code"])


@pytest.mark.parametrize("case", VECTORS["inputs"], ids=lambda case: repr(case["input"])[:30])
def test_input_vectors(case: dict[str, Any]) -> None:
    assert normalize(case["input"]) == case["normalized"]
    assert is_valid(case["input"]) is case["valid"]


def test_damm_table_rows_and_columns_are_permutations() -> None:
    """A Latin square: a wrong digit moves the interim state, and every later step maps
    different states to different states, so the final state cannot be 0 again. This
    proves every single-digit error in any code is detected."""
    for row in DAMM:
        assert sorted(row) == list(range(10))
    for column in range(10):
        assert sorted(row[column] for row in DAMM) == list(range(10))
    assert all(DAMM[state][state] == 0 for state in range(10))


def test_damm_table_separates_every_adjacent_transposition() -> None:
    """From any interim state, "ab" and "ba" (a != b) lead to different states; with the
    Latin-square property above this proves every adjacent transposition is detected,
    including one involving the check digit."""
    for state, first, second in product(range(10), repeat=3):
        if first != second:
            assert DAMM[DAMM[state][first]][second] != DAMM[DAMM[state][second]][first]


@given(numbers, st.integers(min_value=0, max_value=11), st.integers(min_value=1, max_value=9))
def test_any_single_digit_error_is_caught(number: int, position: int, shift: int) -> None:
    code = new_code(number)
    wrong = str((int(code[position]) + shift) % 10)
    assert not is_valid(code[:position] + wrong + code[position + 1 :])


@given(numbers, st.integers(min_value=0, max_value=10))
def test_any_adjacent_transposition_is_caught(number: int, position: int) -> None:
    code = new_code(number)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assert is_valid(swapped) is (swapped == code)


def test_every_single_digit_error_of_some_codes_exhaustively() -> None:
    for number in (0, 1, 12345678901, CODE_SPACE - 1):
        code = new_code(number)
        for position in range(12):
            for digit in "0123456789":
                changed = code[:position] + digit + code[position + 1 :]
                assert is_valid(changed) is (changed == code)


@given(numbers)
def test_codes_are_twelve_digits_that_format_and_normalize_back(number: int) -> None:
    code = new_code(number)
    assert len(code) == 12 and code.isascii() and code.isdigit()
    assert int(code[:11]) == number
    assert check_digit(code) == "0"
    formatted = format_code(code)
    assert formatted == f"{code[:4]} {code[4:8]} {code[8:]}"
    assert normalize(formatted) == code


@pytest.mark.parametrize("number", [-1, CODE_SPACE, True, 1.0, "1"])
def test_new_code_refuses_numbers_outside_the_space(number: Any) -> None:
    with pytest.raises(ValueError):
        new_code(number)


def test_random_codes_are_valid_and_vary() -> None:
    drawn = {random_code() for _ in range(50)}
    assert all(is_valid(code) for code in drawn)
    assert len(drawn) > 45


def test_full_width_input_from_a_chinese_input_method() -> None:
    assert normalize("１２３４\u30005678－９０１８") == "123456789018"


@pytest.mark.parametrize("text", [None, 123456789018, b"123456789018", "1" * 12 + " " * 60])
def test_normalize_refuses_non_text_and_overlong_input(text: object) -> None:
    assert normalize(text) is None
    assert not is_valid(text)


@given(st.text(max_size=80))
def test_normalize_is_total(text: str) -> None:
    result = normalize(text)
    assert result is None or (len(result) == 12 and result.isascii() and result.isdigit())


def test_format_code_refuses_non_codes() -> None:
    with pytest.raises(ValueError):
        format_code("12345")
