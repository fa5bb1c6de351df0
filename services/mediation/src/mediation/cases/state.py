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


class Stage(StrEnum):
    """Direct negotiation with the enterprise, or mediation after the regulator accepted the complaint."""

    NEGOTIATION = "negotiation"
    MEDIATION = "mediation"


TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    # The regulator may accept a complaint whose negotiation had not formally failed yet (its clock ran out first).
    CaseStatus.NEGOTIATING: frozenset({CaseStatus.SETTLED, CaseStatus.FAILED, CaseStatus.TERMINATED,
                                       CaseStatus.MEDIATING}),
    # A failed negotiation waits for the regulator: accepted -> mediation, refused or withdrawn -> terminated.
    CaseStatus.FAILED: frozenset({CaseStatus.MEDIATING, CaseStatus.TERMINATED}),
    CaseStatus.MEDIATING: frozenset({CaseStatus.SUSPENDED, CaseStatus.SETTLED, CaseStatus.TERMINATED}),
    CaseStatus.SUSPENDED: frozenset({CaseStatus.MEDIATING, CaseStatus.TERMINATED}),
    CaseStatus.SETTLED: frozenset(),
    CaseStatus.TERMINATED: frozenset(),
}

# Statuses in which the parties can still exchange offers.
OPEN_FOR_OFFERS = frozenset({CaseStatus.NEGOTIATING, CaseStatus.MEDIATING})
FINAL = frozenset({CaseStatus.SETTLED, CaseStatus.TERMINATED})


class DeadlineKind(StrEnum):
    MERCHANT_NEGOTIATION = "merchant_negotiation"
    MEDIATION = "mediation"


class DeadlineState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    BREACHED = "breached"
    ENDED = "ended"


def transition(current: CaseStatus, target: CaseStatus) -> CaseStatus:
    """Return `target` if the table allows moving there from `current`, else raise a 409 problem."""
    if target not in TRANSITIONS[current]:
        raise Problem("conflict", f"A case that is {current.value} cannot become {target.value}",
                      current_status=current.value)
    return target


def require_open_for_offers(current: CaseStatus) -> None:
    """Offers, counters and acceptances happen only while the case negotiates or is mediated (409 otherwise)."""
    if current not in OPEN_FOR_OFFERS:
        raise Problem("conflict", f"A case that is {current.value} takes no offers", current_status=current.value)


def negotiation_deadline_state(status: CaseStatus, due_date: date, today: date) -> DeadlineState:
    """The enterprise's negotiation clock runs while the case negotiates and is breached after its last day."""
    if status is not CaseStatus.NEGOTIATING:
        return DeadlineState.ENDED
    return DeadlineState.RUNNING if today <= due_date else DeadlineState.BREACHED


def mediation_deadline_state(status: CaseStatus, due_date: date, today: date, *, paused: bool) -> DeadlineState:
    """The 60-day mediation clock: paused during appraisal or a recusal suspension, ended once the case closes."""
    if status in FINAL:
        return DeadlineState.ENDED
    if paused or status is CaseStatus.SUSPENDED:
        return DeadlineState.PAUSED
    return DeadlineState.RUNNING if today <= due_date else DeadlineState.BREACHED
