"""Check characters of the identifiers intake receives: the unified social credit code and the resident ID number."""

from __future__ import annotations

import re

# GB 32100-2015: 18 characters from a 31-character alphabet (no I, O, Z, S, V); the last is a check character with
# position weights 3**i mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_USCC_WEIGHTS = tuple(pow(3, position, 31) for position in range(17))

# GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character (0-9 or X).
ID_NUMBER_PATTERN = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
_ID_CHECK = "10X98765432"


def uscc_check_character(first_17: str) -> str:
    """The 18th character a unified social credit code must end with."""
    total = sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(first_17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_uscc(code: str) -> bool:
    """True for a well-formed code whose check character is right."""
    return bool(USCC_PATTERN.match(code)) and uscc_check_character(code[:17]) == code[17]


def id_number_check_character(first_17: str) -> str:
    """The 18th character a resident ID number must end with."""
    return _ID_CHECK[sum(int(digit) * weight for digit, weight in zip(first_17, _ID_WEIGHTS, strict=True)) % 11]


def is_id_number(code: str) -> bool:
    """True for 18 characters with the right check character (birth date and region are not verified)."""
    return bool(ID_NUMBER_PATTERN.match(code)) and id_number_check_character(code[:17]) == code[17]
