"""A queued text message: `pending` until the provider took it (`sent`) or it cannot be sent (`failed`: rejected by
the provider, out of attempts, a sign-in code past its use, or no recipient any more). A retry keeps it pending."""

from __future__ import annotations

from enum import StrEnum


class SmsStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


TRANSITIONS: dict[SmsStatus, frozenset[SmsStatus]] = {
    SmsStatus.PENDING: frozenset({SmsStatus.PENDING, SmsStatus.SENT, SmsStatus.FAILED}),
    SmsStatus.SENT: frozenset(),
    SmsStatus.FAILED: frozenset(),
}


def can_become(current: SmsStatus, target: SmsStatus) -> bool:
    return target in TRANSITIONS[current]

