"""Unified social credit codes: the check character is recomputed here from the standard's own definition."""

from __future__ import annotations

import pytest

from merchants.registry.uscc import InvalidUSCC, check_character, is_valid_uscc, normalize_uscc

# GB 32100-2015 table 2 (code character -> value) and 5.3 (weights), transcribed rather than derived.
CHARACTER_VALUES = {**{str(digit): digit for digit in range(10)},
                    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "J": 18, "K": 19,
                    "L": 20, "M": 21, "N": 22, "P": 23, "Q": 24, "R": 25, "T": 26, "U": 27, "W": 28, "X": 29,
                    "Y": 30}
STANDARD_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
VALUE_CHARACTERS = {value: char for char, value in CHARACTER_VALUES.items()}


def reference_check_character(first_17: str) -> str:
    total = sum(CHARACTER_VALUES[char] * weight for char, weight in zip(first_17, STANDARD_WEIGHTS, strict=True))
    check = 31 - total % 31
    return VALUE_CHARACTERS[0 if check == 31 else check]


# Published codes: the standard's example and registrations of well-known companies.
PUBLISHED = ["91350100M000100Y43", "91110000802100433B", "911100001000044477"]
DEMO = ["91632801MA7KL2Q38M", "91632801MA7KY8D595"]


@pytest.mark.parametrize("code", PUBLISHED + DEMO)
def test_valid_codes_pass_and_match_the_reference(code: str) -> None:
    assert is_valid_uscc(code)
    assert check_character(code[:17]) == reference_check_character(code[:17]) == code[17]


@pytest.mark.parametrize("first_17", ["91632801MA7KL2Q38", "12100000400000000", "Y1632801000000000",
                                      "51632801ABCDEFGHJ", "93632801QRTUWXY00"])
def test_check_character_agrees_with_the_reference(first_17: str) -> None:
    assert check_character(first_17) == reference_check_character(first_17)


def test_lower_case_and_spaces_are_normalised() -> None:
    assert normalize_uscc("  91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "complaint"),
    [
        ("91350100M000100Y44", "check character"),      # last character altered
        ("91350100M000100Y4", "18 characters"),         # too short
        ("91350100M000100Y433", "18 characters"),       # too long
        ("91350100M000I00Y43", "not allowed"),          # I is not in the alphabet
        ("91350100M000100S43", "not allowed"),          # neither is S
        ("B1350100M000100Y43", "registration authority"),
        ("97350100M000100Y43", "category"),             # authority 9 has categories 1-3 only
        ("9135A100M000100Y43", "administrative division"),
    ],
)
def test_invalid_codes_are_refused_with_a_reason(code: str, complaint: str) -> None:
    assert not is_valid_uscc(code)
    with pytest.raises(InvalidUSCC, match=complaint):
        normalize_uscc(code)


def test_a_transposition_is_caught() -> None:
    code = "91110000802100433B"
    swapped = code[:9] + code[10] + code[9] + code[11:]
    assert swapped != code
    assert not is_valid_uscc(swapped)
