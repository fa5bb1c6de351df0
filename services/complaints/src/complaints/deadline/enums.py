"""Vocabulary of the deadline domain: kinds of clock and their states."""

from __future__ import annotations

from enum import StrEnum


class DeadlineKind(StrEnum):
    MERCHANT_NEGOTIATION = "merchant_negotiation"
    INITIAL_REVIEW = "initial_review"
    REPORT_VERIFICATION = "report_verification"


class DeadlineState(StrEnum):
    """`met`: the obligated party acted in time; `ended`: the stage ended without that party's act (withdrawal)."""

    RUNNING = "running"
    EXTENDED = "extended"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    ENDED = "ended"


# A clock in one of these states can still run out.
TICKING = frozenset({DeadlineState.RUNNING, DeadlineState.EXTENDED})
# A clock in one of these states is still open: it can be met, ended, paused or resumed.
OPEN_CLOCK = frozenset({DeadlineState.RUNNING, DeadlineState.EXTENDED, DeadlineState.PAUSED})
