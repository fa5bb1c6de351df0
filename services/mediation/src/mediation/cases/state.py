"""The mediation case life cycle as a pure transition table, and what its deadlines look like to the parties."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from servicekit.problems import Problem


class CaseStatus(StrEnum):
    NEGOTIATING = "negotiating"
    MEDIATING = "mediating"
    SUSPENDED = "suspended"
    SETTLED = "settled"
    FAILED = "failed"
    TERMINATED = "terminated"


TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEGOTIATING: frozenset({CaseStatus.SETTLED, CaseStatus.FAILED, CaseStatus.TERMINATED}),
    # A failed negotiation waits for the regulator: accepted -> mediation, refused -> terminated.
    CaseStatus.FAILED: frozenset({CaseStatus.MEDIATING, CaseStatus.TERMINATED}),
    CaseStatus.MEDIATING: frozenset({CaseStatus.SUSPENDED, CaseStatus.SETTLED, CaseStatus.TERMINATED}),
    CaseStatus.SUSPENDED: frozenset({CaseStatus.MEDIATING, CaseStatus.TERMINATED}),
    CaseStatus.SETTLED: frozenset(),
    CaseStatus.TERMINATED: frozenset(),
}


class DeadlineKind(StrEnum):
    MERCHANT_NEGOTIATION = "merchant_negotiation"


class DeadlineState(StrEnum):
    RUNNING = "running"
    BREACHED = "breached"
    ENDED = "ended"


def transition(current: CaseStatus, target: CaseStatus) -> CaseStatus:
    """Return `target` if the table allows moving there from `current`, else raise a 409 problem."""
    if target not in TRANSITIONS[current]:
        raise Problem("conflict", f"A case that is {current.value} cannot become {target.value}",
                      current_status=current.value)
    return target


def negotiation_deadline_state(status: CaseStatus, due_date: date, today: date) -> DeadlineState:
    """The enterprise's negotiation clock runs while the case negotiates and is breached after its last day."""
    if status is not CaseStatus.NEGOTIATING:
        return DeadlineState.ENDED
    return DeadlineState.RUNNING if today <= due_date else DeadlineState.BREACHED
