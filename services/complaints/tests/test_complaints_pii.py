"""servicekit.pii as complaints uses it: encryption bound to row and field, a keyed blind index, masked phones."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from servicekit.pii import PiiCipher, mask_phone


def test_encryption_round_trips_and_is_randomised() -> None:
    cipher = PiiCipher("key-one")

    first = cipher.encrypt("13800138000", context="complaint:1:phone")
    second = cipher.encrypt("13800138000", context="complaint:1:phone")

    assert first != second
    assert cipher.decrypt(first, context="complaint:1:phone") == "13800138000"


def test_a_ciphertext_moved_to_another_row_or_field_does_not_decrypt() -> None:
    cipher = PiiCipher("key-one")
    blob = cipher.encrypt("王芳", context="complaint:1:name")

    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, context="complaint:2:name")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, context="complaint:1:address")
    with pytest.raises(InvalidTag):
        PiiCipher("key-two").decrypt(blob, context="complaint:1:name")


def test_the_blind_index_matches_equal_values_under_one_key_only() -> None:
    cipher = PiiCipher("key-one")

    assert cipher.blind_index("138 0013 8000") == cipher.blind_index("13800138000")
    assert cipher.blind_index("13800138001") != cipher.blind_index("13800138000")
    assert PiiCipher("key-two").blind_index("13800138000") != cipher.blind_index("13800138000")
    assert len(cipher.blind_index("13800138000")) == 32


@pytest.mark.parametrize(("phone", "masked"), [("13800138000", "138****8000"), ("15912345678", "159****5678"),
                                               ("1234567", "*******")])
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
