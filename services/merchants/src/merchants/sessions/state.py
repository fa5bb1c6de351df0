"""The life of a session family and of each refresh token in it, as tables.

A family is `active` until it is revoked (signed out, a rotated token presented again, the account disabled) or its
absolute lifetime ends. A token is `current` until it is exchanged once (`rotated`); presenting a rotated token again
is the signature of a stolen copy, so it revokes the whole family.
"""

from __future__ import annotations

from enum import StrEnum


class SessionKind(StrEnum):
    """Whose session: a consumer (subject: the pseudonym of the phone), a staff account or a person of an ODR
    enterprise signed in to the portal (subject: the account's username)."""

    CONSUMER = "consumer"
    STAFF = "staff"
    MERCHANT_PORTAL = "merchant_portal"


class FamilyState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class RevocationReason(StrEnum):
    SIGNED_OUT = "signed_out"
    REUSE_DETECTED = "reuse_detected"
    ACCOUNT_DISABLED = "account_disabled"


class TokenState(StrEnum):
    CURRENT = "current"
    ROTATED = "rotated"


FAMILY_TRANSITIONS: dict[FamilyState, frozenset[FamilyState]] = {
    FamilyState.ACTIVE: frozenset({FamilyState.REVOKED}),
    FamilyState.REVOKED: frozenset(),
}

TOKEN_TRANSITIONS: dict[TokenState, frozenset[TokenState]] = {
    TokenState.CURRENT: frozenset({TokenState.ROTATED}),
    TokenState.ROTATED: frozenset(),
}


def family_can_become(current: FamilyState, target: FamilyState) -> bool:
    return target in FAMILY_TRANSITIONS[current]


def token_can_become(current: TokenState, target: TokenState) -> bool:
    return target in TOKEN_TRANSITIONS[current]


KIND_VALUES = ", ".join(f"'{kind.value}'" for kind in SessionKind)
REASON_VALUES = ", ".join(f"'{reason.value}'" for reason in RevocationReason)
