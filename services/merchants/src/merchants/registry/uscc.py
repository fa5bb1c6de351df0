"""Unified social credit codes (统一社会信用代码) per GB 32100-2015.

Layout of the 18 characters: registration authority (1), organisation category (1),
administrative division (6 digits, GB/T 2260), organisation code (9, GB 11714),
check character (1). The alphabet has 31 characters: digits and capitals without I, O, Z, S, V.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LENGTH = 18
# Weight of position i is 3**i mod 31 (GB 32100-2015, 5.3).
WEIGHTS = tuple(pow(3, position, 31) for position in range(LENGTH - 1))
# GB 32100-2015 table 1 and its later additions: registration authority -> category codes.
CATEGORIES_BY_AUTHORITY: dict[str, str] = {
    "1": "1239",
    "2": "19",
    "3": "123459",
    "4": "19",
    "5": "1239",
    "6": "129",
    "7": "129",
    "8": "19",
    "9": "123",
    "A": "19",
    "N": "1239",
    "Y": "1",
}


class InvalidUSCC(ValueError):
    """The text is not a well-formed unified social credit code."""


def check_character(first_17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(first_17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(raw: str) -> str:
    """Return the code in canonical form (trimmed, upper case), or raise InvalidUSCC saying what is wrong."""
    code = raw.strip().upper()
    if len(code) != LENGTH:
        raise InvalidUSCC(f"a unified social credit code has {LENGTH} characters, got {len(code)}")
    if bad := sorted({char for char in code if char not in ALPHABET}):
        raise InvalidUSCC(f"characters not allowed in a unified social credit code: {''.join(bad)}")
    authority, category = code[0], code[1]
    if authority not in CATEGORIES_BY_AUTHORITY:
        raise InvalidUSCC(f"unknown registration authority code {authority!r}")
    if category not in CATEGORIES_BY_AUTHORITY[authority]:
        raise InvalidUSCC(f"organisation category {category!r} does not exist for authority {authority!r}")
    if not code[2:8].isdigit():
        raise InvalidUSCC("characters 3-8 must be the administrative division code (6 digits)")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidUSCC(f"check character is {code[17]!r}, expected {expected!r}")
    return code


def is_valid_uscc(raw: str) -> bool:
    """True when `raw` is a well-formed code with the right check character."""
    try:
        normalize_uscc(raw)
    except InvalidUSCC:
        return False
    return True
