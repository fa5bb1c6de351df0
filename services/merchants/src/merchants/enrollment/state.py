"""The ODR enrollment life cycle as a pure transition table."""

from __future__ import annotations

from enum import StrEnum

from servicekit.problems import Problem


class EnrollmentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    EnrollmentStatus.PENDING: frozenset({EnrollmentStatus.APPROVED, EnrollmentStatus.REJECTED}),
    EnrollmentStatus.APPROVED: frozenset({EnrollmentStatus.SUSPENDED, EnrollmentStatus.REVOKED}),
    # Reinstatement returns a suspended enterprise to approved.
    EnrollmentStatus.SUSPENDED: frozenset({EnrollmentStatus.APPROVED, EnrollmentStatus.REVOKED}),
    EnrollmentStatus.REJECTED: frozenset(),
    EnrollmentStatus.REVOKED: frozenset(),
}


def transition(current: EnrollmentStatus, target: EnrollmentStatus) -> EnrollmentStatus:
    """Return `target` if the table allows moving there from `current`, else raise a 409 problem."""
    if target not in TRANSITIONS[current]:
        raise Problem("conflict", f"An enrollment that is {current.value} cannot become {target.value}",
                      current_status=current.value)
    return target
